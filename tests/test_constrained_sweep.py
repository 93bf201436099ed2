"""End to end under objective.full_depth_margin: a shrunk smoke sweep (4 trials, one at a time, the winner
retrained with one seed) ranked on depth 1 with margin 0, so that a trial may only win with a full-depth
STS-dev at least the reference defaults' trial's. Never an infeasible winner; Optuna's trials carry the
constraint the frames give."""

from __future__ import annotations

import json

import optuna
import pytest

from sweep.experiment_folder import STUDY_FILE, ExperimentFolder, load_reports, load_trials
from sweep.study_storage import RAY_TRIAL_ID, open_storage
from trainables.metrics import OBJECTIVE, depth_metric

from .conftest import smoke_in_process


@pytest.fixture(scope="module")
def constrained_experiment(ray_session, tmp_path_factory):
    results = tmp_path_factory.mktemp("constrained")
    overrides = [
        "objective.target=depth",
        "objective.depth=1",
        "objective.full_depth_margin=0",
        "search.num_samples=4",
        "search.max_concurrent=1",  # the defaults' trial reports before any other ends
        "retrain.arms=[best]",
        "retrain.seeds=[13]",
    ]
    return smoke_in_process(results, overrides)


def _chosen(reports, trial_id: str) -> dict:
    """The trial's evaluation with the best depth-1 score (the first of equals), as the sweep ranks it."""
    rows = reports[reports["trial_id"] == trial_id].sort_values("step")
    return rows.loc[rows[depth_metric(1)].idxmax()].to_dict()


def test_the_winner_is_feasible_and_beats_every_other_feasible_trial(constrained_experiment):
    report = json.loads((constrained_experiment / "report.json").read_text())
    trials, reports = load_trials(constrained_experiment), load_reports(constrained_experiment)
    defaults = trials.sort_values("trial_index").iloc[0]["trial_id"]  # the searcher's first point
    threshold = _chosen(reports, defaults)[OBJECTIVE]
    completed = trials.loc[trials["status"] == "completed", "trial_id"]
    feasible = {t: _chosen(reports, t)[OBJECTIVE] >= threshold for t in completed}
    constraint = report["constraint"]
    assert (constraint["reference_trial"], constraint["threshold"]) == (defaults, pytest.approx(threshold))
    assert {t: v["feasible"] for t, v in constraint["trials"].items()} == feasible
    assert constraint["feasible"] == sum(feasible.values()) and constraint["completed"] == len(feasible)
    winner = report["best"]["trial_id"]
    assert feasible[winner]  # never an infeasible winner
    best_feasible = max((t for t in feasible if feasible[t]), key=lambda t: _chosen(reports, t)[depth_metric(1)])
    assert winner == best_feasible
    text = (constrained_experiment / "report.md").read_text()
    assert f"**{constraint['feasible']} of {constraint['completed']} completed trials were feasible**" in text


def test_optuna_was_told_each_trials_constraint(constrained_experiment):
    config = ExperimentFolder(constrained_experiment).config()
    storage = open_storage(str(constrained_experiment / STUDY_FILE))
    study = optuna.load_study(study_name=config.search.study_name, storage=storage)
    report = json.loads((constrained_experiment / "report.json").read_text())
    threshold = report["constraint"]["threshold"]
    reports = load_reports(constrained_experiment)
    told = {t.user_attrs[RAY_TRIAL_ID]: t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")}
    assert told
    for trial_id, trial in told.items():
        assert trial.constraints == pytest.approx({"full_depth": threshold - _chosen(reports, trial_id)[OBJECTIVE]})
