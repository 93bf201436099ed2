"""Faults as they happen to a sweep that is running or finished: its stdout closed by the reader
(`sweep run ... | head`), a trial whose worker stops (SIGSTOP) and so never reports again, and a disk that
fills up or turns read-only under the retrain and the report. Each ends as the README says: the sweep
goes on, or one line on stderr and an exit status, with nothing written before lost."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
import pytest

from sweep.cli import main
from sweep.store import atomic
from sweep.store.disk_faults import EXIT_IO_ERROR
from trainables.hold import HOLD_ENV, TRIAL

from .conftest import ROOT, SMOKE, own_output
from .fault_injection import READ_ONLY_FIX, READ_ONLY_REASON, mount, read_only, small_disk

pytestmark = pytest.mark.timeout(900)
TRIALS = 3
STALL_S = 45  # failures.trial_timeout_s: above a cold worker's start and first evaluation on 2 busy cores
OVERRIDES = [
    f"search.num_samples={TRIALS}",
    "search.max_concurrent=1",  # one trial worker: the one to stop is the only one
    "retrain.seeds=[1]",
    "retrain.arms=[best]",  # the winner only (and the untrained model, always scored)
    f"failures.trial_timeout_s={STALL_S}",
]


@dataclass
class FaultedSweep:
    folder: Path
    status: int
    err: str
    read: list[str]  # the stdout lines read before the pipe was closed
    stopped_trial: str  # the trial whose worker was stopped


def _workers(pid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if process.cmdline() and process.cmdline()[0].startswith("ray::ImplicitFunc"):
                found.append(process)
    return found


@pytest.fixture(scope="module")
def faulted(tmp_path_factory) -> FaultedSweep:
    """`sweep run SMOKE --evaluations | head`, the pipe closed at the first evaluation, when the worker of
    the trial that made it is stopped with SIGSTOP (held there until then: trainables.hold)."""
    results = tmp_path_factory.mktemp("faulted")
    hold = Path(tempfile.mkdtemp(prefix="hold-", dir="/tmp"))
    (hold / TRIAL).touch()
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    argv = ["run", str(SMOKE), "--results-dir", str(results), "--evaluations"]
    argv += [arg for override in OVERRIDES for arg in ("--set", override)]
    process = subprocess.Popen(
        [sys.executable, "-m", "sweep", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "RAY_TMPDIR": str(ray_tmp), HOLD_ENV: str(hold)},
    )
    stopped: list[psutil.Process] = []
    try:
        read = []
        for line in process.stdout:
            read.append(line)
            if " step " in line:  # "sweep: trial ID step 4/13: ..." (--evaluations)
                break
        (worker,) = _workers(process.pid)
        worker.suspend()  # SIGSTOP: the worker hangs, as on a deadlock or a frozen GPU
        stopped.append(worker)
        process.stdout.close()  # the reader goes away, as `head` does after its lines
        (hold / TRIAL).unlink()
        _, err = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for worker in stopped:
            with contextlib.suppress(psutil.Error):
                worker.kill()
        shutil.rmtree(hold, ignore_errors=True)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    (folder,) = results.iterdir()
    trial_id = read[-1].split()[2]
    return FaultedSweep(folder, process.returncode, err, read, trial_id)


def test_a_closed_stdout_ends_the_printing_and_the_sweep_finishes_with_status_0(faulted):
    assert faulted.status == 0, faulted.err[-3000:]
    assert "Traceback" not in faulted.err and "BrokenPipeError" not in faulted.err, faulted.err[-3000:]
    assert "stdout is closed (Broken pipe): no more progress lines; the command goes on" in faulted.err
    trials = pd.read_parquet(faulted.folder / "trials.parquet")
    assert len(trials) == TRIALS
    report = json.loads((faulted.folder / "report.json").read_text())
    assert report["trials"]["total"] == TRIALS
    assert (faulted.folder / "best_model" / "config.json").is_file()


def test_a_trial_whose_worker_stopped_ends_errored_after_the_timeout_and_the_sweep_goes_on(faulted):
    trials = pd.read_parquet(faulted.folder / "trials.parquet").set_index("trial_id")
    stalled = trials.loc[faulted.stopped_trial]
    assert stalled["status"] == "errored"
    assert stalled["error"] == (
        f"stalled: no report for {STALL_S} s (failures.trial_timeout_s), so its worker was killed; not retried"
    )
    error = (faulted.folder / f"trial_{faulted.stopped_trial}" / "error.txt").read_text()
    assert "Failure # 1 " in error and "Failure # 2 " not in error  # not retried
    others = trials.drop(index=faulted.stopped_trial)
    assert set(others["status"]) <= {"completed", "pruned"} and "completed" in set(others["status"])
    assert f"trial {faulted.stopped_trial} stalled: no report for {STALL_S} s" in faulted.err


# A disk that fills up or turns read-only: on a small file system of its own where this user may mount
# one (root in a container), else by making the write fail in-process as the kernel would.


def _used_kb(folder: Path) -> int:
    return sum(path.stat().st_blocks * 512 for path in folder.rglob("*") if path.is_file()) // 1024


def _sweep(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweep", *argv], cwd=ROOT, capture_output=True, text=True)


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err[-3000:]
    lines = err.strip().splitlines()
    return lines[-1]


def test_a_full_disk_during_the_report_is_one_line_74_and_the_report_is_kept(faulted, tmp_path):
    with small_disk(tmp_path / "disk", _used_kb(faulted.folder) + 120) as disk:
        folder = Path(shutil.copytree(faulted.folder, disk / faulted.folder.name))
        kept = {path: path.read_bytes() for path in folder.glob("report.*")}
        # Fill what is left, as another job writing to the same disk would.
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        done = _sweep("report", str(folder))
        assert done.returncode == EXIT_IO_ERROR, done.stderr[-3000:]
        line = _one_line(done.stderr)
        assert line.startswith(f"sweep: error: cannot write {folder}/"), line
        assert line.endswith(
            f"No space left on device; {folder} is kept as it was: free some space on its file system, "
            f"then `sweep report {folder}` goes on from it"
        ), line
        assert {path: path.read_bytes() for path in folder.glob("report.*")} == kept
        assert not list(folder.rglob(".*.tmp"))
        (disk / "filler").unlink()
        again = _sweep("report", str(folder))
        assert again.returncode == 0, again.stderr[-3000:]


def test_a_full_disk_during_the_retrain_is_one_line_74_and_resume_finishes_it(faulted, tmp_path):
    source = faulted.folder
    leave_out = ("report.", "retrain", "best_model", "plot_", "test_similarities")
    swept = tmp_path / "swept"
    shutil.copytree(source, swept, ignore=lambda where, names: [n for n in names if n.startswith(leave_out)])
    # Room for the sweep's files and the retrain's records, not for the kept model.
    model_kb = _used_kb(source / "best_model")
    with small_disk(tmp_path / "disk", _used_kb(swept) + model_kb // 3) as disk:
        folder = Path(shutil.copytree(swept, disk / source.name))
        done = _sweep("retrain", str(folder))
        assert done.returncode == EXIT_IO_ERROR, done.stderr[-3000:]
        line = _one_line(done.stderr)
        assert "No space left on device" in line and line.endswith(f"then `sweep retrain {folder}` goes on from it")
        assert not (folder / "report.json").exists()
        assert not list(folder.rglob(".*.tmp")) and not list(folder.glob(".best_model.*"))
        assert mount("-o", f"remount,size={(_used_kb(swept) + 4 * model_kb + 2048)}k", str(disk))
        resumed = _sweep("resume", str(folder))
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert json.loads((folder / "report.json").read_text())["trials"]["total"] == TRIALS


def test_a_write_that_fails_with_enospc_in_process_is_one_line_74(faulted, tmp_path, capsys, monkeypatch):
    """The same fault where no file system can be mounted: the kernel's answer to a write on a full disk
    (ENOSPC from fsync), given to the report's third file."""
    folder = Path(shutil.copytree(faulted.folder, tmp_path / faulted.folder.name))
    kept = {path: path.read_bytes() for path in folder.glob("report.*")}
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) >= 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    assert main(["report", str(folder)]) == EXIT_IO_ERROR
    err = own_output(capsys).err
    assert err.count("\n") == 1 and err.startswith(f"sweep: error: cannot write {folder}/"), err
    assert err.rstrip().endswith(f"then `sweep report {folder}` goes on from it"), err
    assert {path: path.read_bytes() for path in folder.glob("report.*")} == kept
    assert not list(folder.rglob(".*.tmp"))


@pytest.mark.parametrize("command", ["report", "resume", "retrain"])
def test_a_read_only_folder_is_refused_with_one_line_before_any_work(faulted, tmp_path, command):
    folder = Path(shutil.copytree(faulted.folder, tmp_path / faulted.folder.name))
    if command == "resume":
        (folder / "report.json").unlink()  # else a resume only re-reports
    with read_only(folder):
        started = time.monotonic()
        done = _sweep(command, str(folder))
        took = time.monotonic() - started
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.count("\n") == 1, done.stderr[-3000:]
    assert done.stderr == (
        f"sweep: error: {folder}: cannot write there: {READ_ONLY_REASON}; {READ_ONLY_FIX}, "
        f"then `sweep {command} {folder}`\n"
    )
    assert took < 30  # no Ray started, no data loaded
