"""A real smoke sweep under PASHA: the trials it ranks at its top rung end there and count as completed in
the frames, for Optuna and in the progress lines, and `sweep simulate` replays every decision it made."""

from __future__ import annotations

import json
import shutil

import optuna
import pytest

from sweep.cli import main
from sweep.store.folder import STUDY_FILE, ExperimentFolder, load_reports, load_trials
from sweep.tuning.study import RAY_TRIAL_ID, open_storage

from .conftest import smoke_in_process


@pytest.fixture(scope="module")
def pasha_experiment(ray_session, tmp_path_factory):
    results = tmp_path_factory.mktemp("pasha")
    return smoke_in_process(results, ["scheduler.type=pasha", "retrain.arms=[best]", "retrain.seeds=[13]"])


def _ended_early(pasha_experiment):
    """Completed trials whose last report came before their last step: ranked, as patience is off here."""
    trials, reports = load_trials(pasha_experiment), load_reports(pasha_experiment)
    last = reports.sort_values("step").groupby("trial_id").tail(1).set_index("trial_id")
    completed = trials.loc[trials["status"] == "completed", "trial_id"]
    return [t for t in completed if last.loc[t, "step"] < last.loc[t, "total_steps"]], last


def test_trials_ranked_at_the_top_rung_are_completed_with_their_last_report_marked(pasha_experiment):
    ranked, last = _ended_early(pasha_experiment)
    assert ranked  # the smoke sweep has 4 evaluations a run; PASHA's top starts at the second
    assert all(bool(last.loc[t, "completed"]) for t in ranked)
    report = json.loads((pasha_experiment / "report.json").read_text())
    assert report["trials"]["completed"] == len(load_trials(pasha_experiment).query("status == 'completed'"))


def test_optuna_was_told_the_ranked_trials_complete_with_their_best_score(pasha_experiment):
    ranked, _ = _ended_early(pasha_experiment)
    config = ExperimentFolder(pasha_experiment).config()
    study = optuna.load_study(
        study_name=config.search.study_name, storage=open_storage(str(pasha_experiment / STUDY_FILE))
    )
    states = {t.user_attrs[RAY_TRIAL_ID]: t for t in study.trials}
    reports = load_reports(pasha_experiment)
    for trial_id in ranked:
        assert states[trial_id].state == optuna.trial.TrialState.COMPLETE
        best = reports.loc[reports["trial_id"] == trial_id, config.objective.metrics[0]].max()
        assert states[trial_id].value == pytest.approx(best)


def test_sweep_simulate_replays_every_decision_of_the_pasha_sweep(pasha_experiment, tmp_path):
    folder = tmp_path / "sweep"
    shutil.copytree(pasha_experiment, folder)
    assert main(["simulate", str(folder)]) == 0
    record = json.loads((folder / "simulate.json").read_text())
    check = record["replay_check"]
    assert check["decisions_matched"] == check["decisions_total"] == len(load_reports(folder)), check["differences"]
    (setting,) = record["settings"]
    assert setting["same_winner"]
