"""load_trials / load_reports on the smoke sweep's folder: finished, then copied and broken the ways a
running or crashed sweep leaves it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sweep import load_reports, load_trials
from sweep.store.frames import REPORT_HEAD_COLUMNS, STATUSES, report_columns, trial_columns
from trainables.errors import InputError
from trainables.metrics import OBJECTIVE, depth_metric

from .conftest import ray_only_copy


def set_state(folder: Path, trial_id: str, status: str) -> None:
    """Rewrite one trial's status in the experiment state, as Tune saves it while the trial runs."""
    (state_file,) = folder.glob("experiment_state-*.json")
    state = json.loads(state_file.read_text())
    for entry in state["trial_data"]:
        trial = json.loads(entry[0])
        if trial["trial_id"] == trial_id:
            trial["status"] = status
            entry[0] = json.dumps(trial)
    state_file.write_text(json.dumps(state))


def test_the_saved_parquet_files_are_what_the_folder_reader_returns(smoke_experiment):
    saved_trials = pd.read_parquet(smoke_experiment / "trials.parquet")
    saved_reports = pd.read_parquet(smoke_experiment / "reports.parquet")
    pd.testing.assert_frame_equal(load_trials(smoke_experiment), saved_trials)
    pd.testing.assert_frame_equal(load_reports(smoke_experiment), saved_reports)
    assert list(saved_trials.columns) == trial_columns(4)
    assert list(saved_reports.columns) == report_columns(4)


def test_reports_match_what_tune_logged_in_each_trials_progress_csv(smoke_experiment):
    reports = load_reports(smoke_experiment)
    for trial_id, rows in reports.groupby("trial_id"):
        logged = pd.read_csv(smoke_experiment / f"trial_{trial_id}" / "progress.csv")
        assert rows["step"].tolist() == logged["step"].tolist()
        for column in (OBJECTIVE, depth_metric(1), "loss", "time_total_s"):
            assert rows[column].to_numpy() == pytest.approx(logged[column].to_numpy()), column


def test_each_trial_folder_keeps_its_rows_as_json_and_csv_and_no_tensorboard_files(smoke_experiment):
    # Tune's TensorBoard logger imports torch into the driver, seconds before the first trial starts.
    for trial in smoke_experiment.glob("trial_*"):
        names = {path.name for path in trial.iterdir()}
        assert {"result.json", "progress.csv"} <= names
        assert not [name for name in names if name.startswith("events.out.tfevents")]


def test_a_pandas_user_can_group_sort_filter_and_join(smoke_experiment):
    trials, reports = load_trials(smoke_experiment), load_reports(smoke_experiment)
    counts = trials.groupby("status").size()
    assert set(counts.index) <= set(STATUSES) and counts.sum() == 8
    top = trials.sort_values("sts_dev_best", ascending=False).iloc[0]
    assert top["sts_dev_best"] == reports[OBJECTIVE].max()
    pruned = trials[trials["status"] == "pruned"]
    assert (pruned["steps"] < pruned["total_steps"]).all() and not pruned.empty
    per_trial = reports.groupby("trial_id")[OBJECTIVE].max()
    joined = trials.set_index("trial_id")["sts_dev_best"]
    assert per_trial.sort_index().to_numpy() == pytest.approx(joined.loc[per_trial.sort_index().index].to_numpy())
    merged = reports.merge(trials[["trial_id", "status", "kl_temperature"]], on="trial_id", validate="many_to_one")
    assert len(merged) == len(reports) == trials["evaluations"].sum()
    mean_at_depth = reports.filter(like="depth").mean()
    assert list(mean_at_depth.index) == ["sts_dev_spearman_cosine_mean_depth", *(depth_metric(d) for d in range(1, 5))]
    assert trials["trial_index"].tolist() == list(range(8)) and trials.iloc[0]["kl_temperature"] == 0.3


def test_a_crashed_sweep_reads_with_errored_unfinished_and_cut_short_trials(smoke_experiment, tmp_path):
    folder = ray_only_copy(smoke_experiment, tmp_path / "crashed")
    finished = load_trials(smoke_experiment)
    completed = finished[finished["status"] == "completed"]["trial_id"].tolist()
    running, failed = completed[-1], completed[-2]
    set_state(folder, running, "RUNNING")  # the driver died while this trial ran
    result = folder / f"trial_{running}" / "result.json"
    lines = result.read_text().splitlines()
    result.write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])  # the crash cut a line short
    traceback = "Traceback (most recent call last):\nRuntimeError: CUDA OOM\n"
    (folder / f"trial_{failed}" / "error.txt").write_text(traceback)
    set_state(folder, failed, "ERROR")  # as Ray records a trial that raised past its retries
    started = folder / "trial_ffffffff"  # a trial that started but had not reported
    started.mkdir()
    shutil.copy(folder / f"trial_{running}" / "params.json", started / "params.json")
    for pickle in folder.glob("*.pkl"):
        pickle.write_bytes(b"not a pickle: reading the folder must never unpickle")

    trials, reports = load_trials(folder), load_reports(folder)
    assert len(trials) == 9 and trials.iloc[-1]["trial_id"] == "ffffffff"
    by_id = trials.set_index("trial_id")
    assert by_id.loc[running, "status"] == "unfinished" and by_id.loc[running, "evaluations"] == 2
    assert by_id.loc[failed, "status"] == "errored" and by_id.loc[failed, "error"] == "RuntimeError: CUDA OOM"
    assert by_id.loc["ffffffff", "status"] == "unfinished" and by_id.loc["ffffffff", "evaluations"] == 0
    assert pd.isna(by_id.loc["ffffffff", "sts_dev_best"])
    assert len(reports) == finished["evaluations"].sum() - 2
    assert (trials.groupby("status").size().drop("unfinished") > 0).all()


def test_a_sweep_that_crashed_before_tune_saved_its_state_still_reads(smoke_experiment, tmp_path):
    folder = ray_only_copy(smoke_experiment, tmp_path / "early")
    for state in folder.glob("experiment_state-*.json"):
        state.unlink()
    (folder / "experiment.json").unlink()  # the depth count then comes from the reports
    trials, reports = load_trials(folder), load_reports(folder)
    assert len(trials) == 8 and set(trials["status"]) <= {"completed", "unfinished"}
    # Without Tune's state nobody can tell a pruned trial from a running one.
    assert (trials["status"] == "completed").sum() == (load_trials(smoke_experiment)["status"] == "completed").sum()
    assert list(reports.columns[: len(REPORT_HEAD_COLUMNS)]) == list(REPORT_HEAD_COLUMNS)
    assert depth_metric(4) in reports and depth_metric(5) not in reports


def test_a_sweep_that_has_not_started_a_trial_reads_as_empty_frames(smoke_experiment, tmp_path):
    for name in ("config.yaml", "experiment.json"):  # what `sweep run` writes before Tune starts
        shutil.copy(smoke_experiment / name, tmp_path / name)
    trials, reports = load_trials(tmp_path), load_reports(tmp_path)
    assert trials.empty and list(trials.columns) == trial_columns(4)
    assert reports.empty and list(reports.columns) == report_columns(4)


def test_a_folder_that_is_not_an_experiment_is_refused(tmp_path):
    with pytest.raises(InputError, match="no Ray Tune experiment"):
        load_trials(tmp_path)
    with pytest.raises(InputError, match="no Ray Tune experiment"):
        load_reports(tmp_path / "missing")
