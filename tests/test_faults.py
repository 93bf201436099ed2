"""Faults injected from the outside, as they happen on a cluster: a trial worker killed (the trial is
retried), a config whose loss turns NaN (the trial stops itself, is not retried), and the driver killed
with SIGKILL mid-sweep (``sweep resume`` finishes the sweep without rerunning finished trials)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pandas as pd
import psutil
import pytest
from optuna.trial import TrialState

from sweep.store.folder import STUDY_FILE, ExperimentFolder
from sweep.tuning.study import RAY_TRIAL_ID, open_storage
from trainables.hold import HOLD_ENV, TRIAL
from trainables.metrics import FAILURE

from .conftest import ROOT, SMOKE

pytestmark = pytest.mark.timeout(900)

TRIALS = 6
OVERRIDES = [
    f"search.num_samples={TRIALS}",
    "search.max_concurrent=1",
    "search.n_startup_trials=3",
    "failures.max_retries=1",
    # A KL temperature so small that logits / temperature overflow at the first step: the NaN fault.
    "search_space.kl_temperature={choice: [0.3, 1.0e-40]}",
    "retrain.defaults=false",
    "retrain.seeds=[13]",
]


def _sweep(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sweep", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs
    )


def _wait(condition, what: str, timeout: float = 400.0, driver: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if driver is not None and driver.poll() is not None:
            raise AssertionError(f"the sweep ended (status {driver.returncode}) before {what}:\n{driver.stdout.read()}")
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _finished_trials(folder: Path) -> dict[str, str]:
    """trial id -> Ray status, for the trials Ray has finished, from its newest state file."""
    states = sorted(folder.glob("experiment_state-*.json"))
    if not states:
        return {}
    try:
        data = json.loads(states[-1].read_text())
    except (json.JSONDecodeError, OSError):  # written while read
        return {}
    trials = (json.loads(state) for state, _ in data["trial_data"])
    return {t["trial_id"]: t["status"] for t in trials if t["status"] in ("TERMINATED", "ERROR")}


def _trial_workers(driver: subprocess.Popen) -> list[psutil.Process]:
    return [p for p in psutil.Process(driver.pid).children(recursive=True) if "ImplicitFunc" in _title(p)]


def _title(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def _rows(folder: Path, trial_id: str) -> list[dict]:
    text = (folder / f"trial_{trial_id}" / "result.json").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def crashed_and_resumed(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    # Ray's own folder, short (its socket paths must fit 107 characters) and the driver's alone: the
    # driver writes each report there at once, and copies it to the experiment folder only later.
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    # Trials hold after each evaluation until the worker has been killed: the kill lands mid-run.
    hold = tmp_path_factory.mktemp("hold")
    (hold / TRIAL).touch()
    driver = _sweep(
        "run",
        str(SMOKE),
        "--results-dir",
        str(results),
        *[a for o in OVERRIDES for a in ("--set", o)],
        # Ray saves its experiment state every second, not every 10 s or more: a smoke sweep's last trials
        # can all end within 10 s, and the driver must die while some are still to run.
        env={**os.environ, "RAY_TMPDIR": str(ray_tmp), "TUNE_GLOBAL_CHECKPOINT_S": "1", HOLD_ENV: str(hold)},
    )
    tree: list[psutil.Process] = []
    try:
        folder = _wait(lambda: next(results.iterdir(), None), "the experiment folder", driver=driver)
        # 1. A lost worker: kill a training process right after its trial's first report, mid-run.
        worker, killed = _wait(lambda: _training_worker(driver, ray_tmp), "a trial mid-run", driver=driver)
        worker.kill()
        (hold / TRIAL).unlink()
        # 2. The driver dies with SIGKILL once Ray has saved the retried trial and two more as finished.
        _wait(
            lambda: killed in _finished_trials(folder) and len(_finished_trials(folder)) >= 3,
            "the retried trial and two more to finish",
            driver=driver,
        )
        tree = psutil.Process(driver.pid).children(recursive=True)
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.wait()
        for process in tree:
            with contextlib.suppress(psutil.Error):
                process.kill()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    before = _finished_trials(folder)
    rows_before = {trial_id: _rows(folder, trial_id) for trial_id in before}
    study_before = {t.number: t.state for t in _study(folder).trials}
    assert not (folder / "trials.parquet").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "sweep", "resume", str(folder)], cwd=ROOT, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    return folder, before, rows_before, killed, study_before


def _study(folder: Path) -> optuna.Study:
    config = ExperimentFolder(folder).config()
    return optuna.load_study(study_name=config.search.study_name, storage=open_storage(str(folder / STUDY_FILE)))


LIVE_RESULTS = "ray/session_*/artifacts/*/*/driver_artifacts/trial_*/result.json"


def _live_rows(ray_tmp: Path) -> dict[str, list[dict]]:
    """Each started trial's rows as the driver has written them so far (session_latest and its target
    are the same folder, so files are counted once)."""
    rows = {}
    for path in {p.resolve() for p in ray_tmp.glob(LIVE_RESULTS) if p.stat().st_size}:
        try:
            rows[path.parent.name.removeprefix("trial_")] = [json.loads(x) for x in path.read_text().splitlines()]
        except json.JSONDecodeError:  # read while written
            continue
    return rows


def _training_worker(driver: subprocess.Popen, ray_tmp: Path) -> tuple[psutil.Process, str] | None:
    """The worker of the sweep's first trial once that trial has reported (and is held), with its id.

    Only the first trial will do. Workers are reused, so a pid in the rows of a trial that has ended (pruned,
    or stopped by its NaN loss) says nothing about what that worker runs now. The first trial runs the
    reference defaults, so its loss stays finite, and it is alone at every ASHA rung, so nothing stops it early.
    """
    reported = _live_rows(ray_tmp)
    if len(reported) != 1:
        return None
    (rows,) = reported.values()
    last = rows[-1]
    if last.get("completed") or last.get(FAILURE):
        return None
    workers = [worker for worker in _trial_workers(driver) if worker.pid == last.get("pid")]
    return (workers[0], last["trial_id"]) if workers else None


def test_the_resumed_sweep_has_every_configured_trial_and_a_report(crashed_and_resumed):
    folder, *_ = crashed_and_resumed
    trials = pd.read_parquet(folder / "trials.parquet")
    assert len(trials) == TRIALS
    assert trials["trial_id"].is_unique
    report = json.loads((folder / "report.json").read_text())
    assert report["trials"]["total"] == TRIALS
    assert (folder / "best_model").is_dir()


def test_trials_finished_before_the_crash_are_kept_and_not_rerun(crashed_and_resumed):
    folder, before, rows_before, *_ = crashed_and_resumed
    trials = pd.read_parquet(folder / "trials.parquet").set_index("trial_id")
    assert set(before) <= set(trials.index)
    for trial_id, rows in rows_before.items():
        assert _rows(folder, trial_id) == rows  # nothing appended: the trial did not run again
        if before[trial_id] == "TERMINATED" and rows:
            assert trials.loc[trial_id, "steps"] == rows[-1]["step"]
            final = rows[-1]["sts_dev_spearman_cosine"]
            assert trials.loc[trial_id, "sts_dev_final"] == pytest.approx(final, nan_ok=True)
    meta = json.loads((folder / "experiment.json").read_text())
    assert len(meta["resumed"]) == 1
    assert not set(meta["superseded"]) & set(trials.index)


def test_a_killed_trial_worker_is_retried_and_the_trial_counts(crashed_and_resumed):
    folder, _, _, killed, _ = crashed_and_resumed
    trials = pd.read_parquet(folder / "trials.parquet").set_index("trial_id")
    # Without the retry the lost worker would have made this trial errored (the sweep allows one retry).
    assert trials.loc[killed, "status"] in ("completed", "pruned"), trials[["status", "attempts", "error"]]
    assert trials.loc[killed, "attempts"] == 2
    assert trials.loc[killed, "evaluations"] >= 1 and pd.isna(trials.loc[killed, "error"])


def test_a_nan_loss_stops_its_trial_at_once_without_a_retry(crashed_and_resumed):
    folder, *_ = crashed_and_resumed
    trials = pd.read_parquet(folder / "trials.parquet")
    nan = trials[trials["kl_temperature"] < 1e-30]
    assert len(nan) >= 1, "the seeded search never proposed the NaN temperature"
    for _, trial in nan.iterrows():
        assert trial["status"] == "errored"
        assert "loss became nan" in trial["error"]
        assert trial["attempts"] == 1
        assert trial["evaluations"] == 0  # stopped before its first STS-dev evaluation
        assert trial["steps"] < trial["total_steps"]
    assert (trials["status"] != "errored").sum() == TRIALS - len(nan)


def test_the_resume_goes_on_with_the_one_stored_study_and_fails_what_the_crash_interrupted(crashed_and_resumed):
    folder, _, _, _, study_before = crashed_and_resumed
    study = _study(folder)
    assert optuna.get_all_study_names(open_storage(str(folder / STUDY_FILE))) == [study.study_name]
    trials = pd.read_parquet(folder / "trials.parquet")
    by_ray_id = {t.user_attrs[RAY_TRIAL_ID]: t for t in study.trials}
    states = {"completed": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "errored": TrialState.FAIL}
    # Every trial the sweep counts is in the study once, in the state it counts in.
    for row in trials.itertuples():
        assert by_ray_id[row.trial_id].state == states[row.status], row.trial_id
    counted = [t for t in study.trials if t.user_attrs[RAY_TRIAL_ID] in set(trials["trial_id"])]
    assert len(counted) == TRIALS
    # The trials the crash left running and Ray reran were told they failed: they count nowhere.
    running = [number for number, state in study_before.items() if state == TrialState.RUNNING]
    assert running, "the driver was killed with no trial running"
    others = [t for t in study.trials if t not in counted]
    assert all(t.state == TrialState.FAIL for t in others if t.number in running)
    assert all(t.state.is_finished() for t in study.trials)
    # Beyond those, only trials that had ended in the study before Ray saved their end (Ray reran them too).
    assert all(t.number in running or study_before.get(t.number, TrialState.RUNNING).is_finished() for t in others)
