"""A finished sweep's folder opened by the libraries' own APIs, as a user would: Ray Tune's
(``Tuner.restore``, ``ExperimentAnalysis``) and Optuna's (``optuna.load_study``, ``optuna-dashboard``),
each finding the same trials and the same best score as ``sweep.load_trials`` and report.json."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from sweep.store.folder import STUDY_FILE, ExperimentFolder, load_trials
from sweep.tuning.study import RAY_TRIAL_ID, open_storage
from trainables.metrics import OBJECTIVE

from .conftest import ray_only_copy
from .servers import free_port

STATES = {"completed": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "errored": TrialState.FAIL}


@pytest.fixture(scope="module")
def restored_copy(smoke_experiment, tmp_path_factory):
    """A copy of the sweep's Ray Tune experiment (Tuner.restore may write into what it restores; the
    shared folder stays as the sweep left it)."""
    return ray_only_copy(smoke_experiment, tmp_path_factory.mktemp("restore") / smoke_experiment.name)


@pytest.fixture(scope="module")
def study(smoke_experiment):
    name = ExperimentFolder(smoke_experiment).config().search.study_name
    return optuna.load_study(study_name=name, storage=open_storage(str(smoke_experiment / STUDY_FILE)))


def _best_by_trial(frames: dict[str, pd.DataFrame]) -> dict[str, float]:
    return {trial_id: float(frame[OBJECTIVE].max()) for trial_id, frame in frames.items()}


def test_tuner_restore_reads_the_same_trials_and_best_scores_as_load_trials(smoke_experiment, restored_copy):
    from ray import tune

    from sweep.tuning.tuner import tuner_spec
    from sweep.workflow.commands import prepare

    assert tune.Tuner.can_restore(str(smoke_experiment))
    prepared = prepare(ExperimentFolder(smoke_experiment).config())
    spec = tuner_spec(prepared.config, prepared.data, prepared.plan, restored_copy)  # the trainable the sweep ran
    grid = tune.Tuner.restore(str(restored_copy), trainable=tune.with_resources(spec.trainable, spec.resources))
    results = grid.get_results()

    trials = load_trials(smoke_experiment).set_index("trial_id")
    assert len(results) == len(trials) and not results.errors
    restored = _best_by_trial({result.metrics["trial_id"]: result.metrics_dataframe for result in results})
    assert restored == pytest.approx(trials["sts_dev_best"].to_dict())


def test_experiment_analysis_reads_the_same_trials_and_best_scores_as_load_trials(smoke_experiment, restored_copy):
    from ray import tune

    analysis = tune.ExperimentAnalysis(str(restored_copy))
    trials = load_trials(smoke_experiment).set_index("trial_id")
    assert sorted(trial.trial_id for trial in analysis.trials) == sorted(trials.index)
    assert _best_by_trial(analysis.trial_dataframes) == pytest.approx(trials["sts_dev_best"].to_dict())


def test_the_stored_study_holds_every_trial_in_its_state_with_its_reports(smoke_experiment, study):
    trials = load_trials(smoke_experiment)
    reports = pd.read_parquet(smoke_experiment / "reports.parquet")
    assert [t.user_attrs[RAY_TRIAL_ID] for t in study.trials] == trials["trial_id"].tolist()  # creation order
    assert {"completed", "pruned"} <= set(trials["status"])  # both kinds are checked below
    for trial, row in zip(study.trials, trials.itertuples(), strict=True):
        assert trial.state == STATES[row.status], row.trial_id
        rows = reports[reports["trial_id"] == row.trial_id]
        # One intermediate value per STS-dev report, keyed by ASHA's clock, as ASHA judged the trial.
        expected = dict(zip(rows["training_iteration"].astype(int), rows[OBJECTIVE], strict=True))
        assert trial.intermediate_values == pytest.approx(expected)
        if row.status == "completed":
            assert trial.value == pytest.approx(row.sts_dev_best)  # its best evaluation, not its last
        if row.status == "pruned":
            assert trial.value == pytest.approx(rows[OBJECTIVE].iloc[-1])  # Optuna's rule: the last report


def test_the_stored_studys_best_is_the_winner_in_report_json(smoke_experiment, study):
    report = json.loads((smoke_experiment / "report.json").read_text())
    assert study.best_value == pytest.approx(report["best"]["objective"][OBJECTIVE])
    assert study.best_trial.user_attrs[RAY_TRIAL_ID] == report["best"]["trial_id"]
    journal = open_storage(str(smoke_experiment / STUDY_FILE))
    assert optuna.get_all_study_names(journal) == [study.study_name]  # one study in the journal


def test_optuna_dashboard_serves_the_study_from_the_folders_journal(smoke_experiment, study):
    port = free_port()
    dashboard = Path(sys.executable).with_name("optuna-dashboard")
    server = subprocess.Popen(
        [str(dashboard), "--host", "127.0.0.1", "--port", str(port), str(smoke_experiment / STUDY_FILE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, body = time.monotonic() + 60, None
        while body is None and time.monotonic() < deadline:
            assert server.poll() is None, "optuna-dashboard exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/0?after=0", timeout=5) as reply:
                    body = json.load(reply)
            except OSError:
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert body is not None, "optuna-dashboard did not answer"
    assert body["name"] == study.study_name
    assert len(body["trials"]) == len(study.trials)
    assert body["best_trials"][0]["values"] == [pytest.approx(study.best_value)]
