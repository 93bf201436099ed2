"""A sweep stopped from outside, as a terminal or a cluster stops it: Ctrl-C sent to the whole process
group (exit 130), SIGTERM (exit 143), a closed terminal (SIGHUP, exit 129), a second Ctrl-C (exit at
once), and the driver killed with SIGKILL during the retrain (here the retrain of the resume that
followed the Ctrl-C). Each leaves a folder that `sweep resume` finishes, and the retrain runs that had
finished are not run again."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
import pytest

from sweep.monitor.status import sweep_status

from .conftest import ROOT
from .fault_injection import SweepProcess

pytestmark = pytest.mark.timeout(600)
TRIALS = 4
# One trial at a time: one trial worker to start instead of two (each imports torch and
# sentence-transformers); what is tested does not depend on trials running side by side.
# Two trained arms: enough retrain runs to interrupt between them, at half the cost of all four.
OVERRIDES = [
    f"search.num_samples={TRIALS}",
    "search.max_concurrent=1",
    "retrain.seeds=[1]",
    "retrain.arms=[best, defaults]",
]
RETRAIN_RUNS = 3  # the best config and the defaults with one seed each, and the untrained model


class Driver(SweepProcess):
    """The smoke sweep, shrunk (or ``sweep COMMAND``), with a Ray folder of its own (short: Ray's socket
    paths must fit)."""

    def __init__(self, results: Path, command: list[str] | None = None):
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        env = {"RAY_TMPDIR": str(self.ray_tmp), "TUNE_GLOBAL_CHECKPOINT_S": "1"}
        super().__init__(results, overrides=OVERRIDES, env=env, command=command)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.ray_tmp, ignore_errors=True)


def _folder(results: Path) -> Path | None:
    return next(results.iterdir(), None)


def _trial_started(results: Path) -> bool:
    folder = _folder(results)
    return folder is not None and any(folder.glob("experiment_state-*.json"))


def _retrain_runs(results: Path) -> list[Path]:
    folder = _folder(results)
    return sorted((folder / "retrain_runs").glob("*.json")) if folder is not None else []


def _one_line(err: str) -> str:
    """The last stderr line, checked to be our own, with no traceback before it."""
    assert "Traceback" not in err, err[-3000:]
    return err.strip().splitlines()[-1]


def _resume(folder: Path) -> subprocess.CompletedProcess:
    resumed = subprocess.run(
        [sys.executable, "-m", "sweep", "resume", str(folder)], cwd=ROOT, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return resumed


def _no_process_left(driver: Driver) -> None:
    """Everything the driver started ends with it: Ray's own processes follow their driver within seconds."""
    _, alive = psutil.wait_procs(driver.tree, timeout=30)
    assert not [process for process in alive if process.status() != psutil.STATUS_ZOMBIE], alive


@dataclass
class Interrupted:
    """One sweep stopped twice, as it may be in a cluster's life: Ctrl-C while its trials ran, then its
    resume killed with SIGKILL during the retrain; a second resume finished it."""

    folder: Path
    status: int  # the exit status after Ctrl-C
    seconds: float  # how long it took to exit
    err: str  # what it printed
    state: str  # `sweep status` of the folder it left
    left_files: list[str]  # its frames and temporary files left after the stop (none are expected)
    resume_err: str  # what the killed resume printed
    retrain_record_left: bool  # whether the killed resume left retrain.json
    kept: dict[str, tuple[int, bytes]]  # the retrain runs on record after the kill: mtime and content
    resumed: subprocess.CompletedProcess  # the second resume


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> Interrupted:
    results = tmp_path_factory.mktemp("interrupted")
    driver = Driver(results)
    try:
        driver.wait_for(lambda: _trial_started(results), "the sweep to start")
        os.killpg(driver.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        status, seconds = driver.finish()
        err = driver.stderr
    finally:
        driver.stop()
    folder = _folder(results)
    left = [str(path) for path in [folder / "trials.parquet", *folder.rglob(".*.tmp")] if path.exists()]
    state = sweep_status(str(folder)).state

    resume = Driver(results, command=["resume", str(folder)])
    try:
        resume.wait_for(lambda: _retrain_runs(results), "a first retrain run to finish")
        os.killpg(resume.process.pid, signal.SIGKILL)  # the driver and the Ray it started, as a lost node
        resume.finish()
    finally:
        resume.stop()
    kept = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in _retrain_runs(results)}
    record_left = (folder / "retrain.json").exists()
    return Interrupted(folder, status, seconds, err, state, left, resume.stderr, record_left, kept, _resume(folder))


def test_ctrl_c_stops_the_sweep_with_130_and_resume_finishes_it(interrupted):
    folder, err = interrupted.folder, interrupted.err
    assert interrupted.status == 130, err[-3000:]
    assert _one_line(err) == (
        f"sweep: stopped by SIGINT; {folder} is kept as it was: `sweep resume {folder}` finishes it"
    )
    assert interrupted.seconds < 60
    assert interrupted.left_files == []
    # The stop is on record: no waiting for the folder's files to go stale.
    assert interrupted.state == "crashed"
    assert "resuming" in interrupted.resume_err
    trials = pd.read_parquet(folder / "trials.parquet")
    assert len(trials) == TRIALS and trials["trial_id"].is_unique
    assert json.loads((folder / "report.json").read_text())["trials"]["total"] == TRIALS


def test_sigterm_to_the_driver_exits_143_and_a_second_ctrl_c_exits_at_once(tmp_path):
    driver = Driver(tmp_path / "term")
    (tmp_path / "term").mkdir()
    try:
        driver.wait_for(lambda: _trial_started(tmp_path / "term"), "the sweep to start")
        driver.process.send_signal(signal.SIGTERM)  # the driver only, as Kubernetes stops a pod's first process
        status, _ = driver.finish()
        err = driver.stderr
        _no_process_left(driver)
    finally:
        driver.stop()
    assert status == 143, err[-3000:]
    assert _one_line(err).startswith("sweep: stopped by SIGTERM; ")
    assert sweep_status(str(_folder(tmp_path / "term"))).state == "crashed"

    (tmp_path / "twice").mkdir()
    driver = Driver(tmp_path / "twice")
    try:
        driver.wait_for(lambda: _trial_started(tmp_path / "twice"), "the sweep to start")
        os.killpg(driver.process.pid, signal.SIGINT)
        time.sleep(0.2)
        os.killpg(driver.process.pid, signal.SIGINT)
        status, seconds = driver.finish()
        err = driver.stderr
        _no_process_left(driver)
    finally:
        driver.stop()
    assert status == 130 and seconds < 10, err[-3000:]
    assert _one_line(err).startswith("sweep: stopped at once by a second SIGINT")


def test_a_driver_killed_during_the_retrain_resumes_with_the_finished_runs_kept(interrupted):
    folder, kept, resumed = interrupted.folder, interrupted.kept, interrupted.resumed
    assert not interrupted.retrain_record_left
    assert 1 <= len(kept) < RETRAIN_RUNS
    assert f"retrain: {len(kept)} of {RETRAIN_RUNS} runs kept from an earlier retrain" in resumed.stderr
    for name, (mtime, content) in kept.items():
        path = folder / "retrain_runs" / name
        assert path.stat().st_mtime_ns == mtime and path.read_bytes() == content
    record = json.loads((folder / "retrain.json").read_text())
    runs = {f"best-seed{run['seed']}.json": run for run in record["best"]}
    runs |= {f"default-seed{run['seed']}.json": run for run in record["default"]}
    assert len(runs) == RETRAIN_RUNS - 1
    for name, run in runs.items():
        written = json.loads((folder / "retrain_runs" / name).read_text())
        assert run["finished"] == written["finished"] and run["started"] == written["started"]
    finished_before = {runs[name]["finished"] for name in kept if name in runs}
    assert all(run["finished"] >= max(finished_before, default="") for name, run in runs.items() if name not in kept)
    assert (folder / "best_model").is_dir() and (folder / "report.json").is_file()


def test_a_closed_terminal_stops_the_sweep_with_129_a_stopped_record_and_no_process_left(tmp_path):
    """The sweep runs in a terminal of its own (a pseudo-terminal, its controlling terminal), which is
    then closed, as a closed SSH session or terminal window closes it: the kernel sends SIGHUP, and
    from then on every write to the terminal fails (EIO), the stop's own line included."""
    results = tmp_path / "results"
    results.mkdir()
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    main_fd, terminal_fd = pty.openpty()
    argv = ["run", str(ROOT / "search_spaces" / "smoke.yaml"), "--results-dir", str(results)]
    argv += [arg for override in OVERRIDES for arg in ("--set", override)]
    process = subprocess.Popen(
        [sys.executable, "-m", "sweep", *argv],
        cwd=ROOT,
        stdin=terminal_fd,
        stdout=terminal_fd,
        stderr=terminal_fd,
        start_new_session=True,
        # The terminal becomes the new session's controlling terminal, as a login shell's is.
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        env={**os.environ, "RAY_TMPDIR": str(ray_tmp), "TUNE_GLOBAL_CHECKPOINT_S": "1"},
    )
    os.close(terminal_fd)
    shown: list[bytes] = []

    def drain() -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(main_fd, 65536):
                shown.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 400
        while not _trial_started(results):
            assert process.poll() is None and time.monotonic() < deadline, b"".join(shown).decode()[-3000:]
            time.sleep(0.2)
        tree = psutil.Process(process.pid).children(recursive=True)
        os.close(main_fd)  # the terminal goes away
        status = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    output = b"".join(shown).decode(errors="replace")
    assert status == 129, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    folder = _folder(results)
    assert json.loads((folder / "experiment.json").read_text()).get("stopped"), "no stop on record"
    assert sweep_status(str(folder)).state == "crashed"
    assert not list(folder.rglob(".*.tmp")) and not (folder / "trials.parquet").exists()
    _, alive = psutil.wait_procs(tree, timeout=30)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
