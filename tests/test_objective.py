"""The objective option: validation, what the Tuner is built with, and which trial is retrained."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from ray.tune.schedulers import ASHAScheduler

from sweep.config.experiment import load_config
from sweep.config.objective import ObjectiveConfig
from sweep.store.frames import NoResultsError
from sweep.store.ranking import pareto_front, points, select_best
from sweep.tuning.tuner import tuner_spec
from sweep.workflow.commands import prepare, prepare_sweep
from trainables.errors import InputError
from trainables.metrics import MEAN_DEPTH, OBJECTIVE, depth_metric

from .conftest import SMOKE


def built(tmp_path, *overrides):
    prepared = prepare_sweep(load_config(SMOKE, [f"results_dir={tmp_path}", *overrides]))
    config = tuner_spec(prepared.config, prepared.data, prepared.plan, tmp_path / "x").tune_config
    return config.search_alg.searcher, config.scheduler, config


def test_two_objectives_give_optuna_both_metrics_and_asha_one(tmp_path):
    searcher, scheduler, tune_config = built(tmp_path, "objective.target=pareto", "objective.depth=2")
    assert searcher.metric == [OBJECTIVE, depth_metric(2)] and searcher.mode == ["max", "max"]
    assert isinstance(scheduler, ASHAScheduler) and scheduler.metric == OBJECTIVE
    trial = SimpleNamespace(trial_id="t")
    scheduler.on_trial_add(None, trial)
    assert scheduler.on_trial_result(None, trial, {"training_iteration": 1, OBJECTIVE: 0.9}) == "CONTINUE"
    trial = SimpleNamespace(trial_id="lower")  # mode max: below the first trial's score is worse
    scheduler.on_trial_add(None, trial)
    assert scheduler.on_trial_result(None, trial, {"training_iteration": 1, OBJECTIVE: 0.1}) == "STOP"
    assert tune_config.metric is None  # each of them carries its own


def test_a_depth_objective_prunes_on_that_depth_unless_told_otherwise(tmp_path):
    searcher, scheduler, _ = built(tmp_path, "objective.target=depth", "objective.depth=1")
    assert searcher.metric == depth_metric(1) == scheduler.metric
    searcher, scheduler, _ = built(tmp_path, "objective.target=depth", "objective.depth=1", "objective.prune_on=full")
    assert (searcher.metric, scheduler.metric) == (depth_metric(1), OBJECTIVE)
    searcher, scheduler, _ = built(tmp_path, "objective.target=mean_depths")
    assert searcher.metric == MEAN_DEPTH == scheduler.metric


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["objective.target=depth"], "objective.depth is required"),
        (["objective.target=pareto"], "objective.depth is required"),
        (["objective.depth=2"], "only read with target depth or pareto"),
        (["objective.target=depth", "objective.depth=0"], "objective.depth: Input should be greater than or equal"),
        (["objective.target=deep"], "objective.target: Input should be"),
        (["objective.pick=knee"], "objective.pick: Input should be"),
    ],
)
def test_bad_objectives_are_refused_with_one_line(overrides, message):
    with pytest.raises(InputError, match=message):
        load_config(SMOKE, overrides)


def test_a_depth_beyond_the_model_is_refused_before_any_trial(tmp_path):
    config = load_config(SMOKE, [f"results_dir={tmp_path}", "objective.target=depth", "objective.depth=5"])
    with pytest.raises(InputError, match="objective.depth: 5 exceeds the model's 4 layers"):
        prepare(config)


TRIAL_COLUMNS = ["trial_id", "status", "sts_dev_best", "sts_dev_best_depth_1", "sts_dev_best_mean_depth"]
REPORT_COLUMNS = ["trial_id", "step", OBJECTIVE, depth_metric(1), MEAN_DEPTH]
STATUS = {"a": "completed", "b": "pruned", "c": "completed", "d": "completed", "e": "errored"}
STATUS.update(f="completed", g="completed")
EVALUATIONS = [
    ("a", 4, 0.80, 0.60, 0.70),  # best full depth
    ("b", 4, 0.90, 0.90, 0.90),  # beats all, but ASHA stopped it: pruned trials never win
    ("c", 4, 0.70, 0.77, 0.73),  # best shallow, best mean over depths
    ("d", 4, 0.69, 0.59, 0.65),  # beaten by a on both
    ("e", 4, 0.99, 0.99, 0.99),  # errored trials never count
    ("f", 4, 0.76, 0.72, 0.725),  # f's best balance of full and shallow
    ("f", 8, 0.60, 0.76, 0.68),  # f's best shallow, at another step: mixing steps would pair it with 0.76
    ("g", 4, 0.75, 0.74, 0.72),  # best balance; a mixed f (0.76, 0.76) would beat it on both
]
REPORTS = pd.DataFrame(EVALUATIONS, columns=REPORT_COLUMNS)
TRIALS = (
    REPORTS.groupby("trial_id", sort=False)
    .max()
    .reset_index()
    .rename(columns=dict(zip(REPORT_COLUMNS[2:], TRIAL_COLUMNS[2:], strict=True)))
    .assign(status=lambda t: t["trial_id"].map(STATUS))[TRIAL_COLUMNS]
)


def test_each_completed_trial_is_one_evaluation_of_it():
    objective = ObjectiveConfig(target="pareto", depth=1)
    found = points(TRIALS, REPORTS, objective).set_index("trial_id")
    assert list(found.index) == ["a", "c", "d", "f", "g"]  # completed only
    f = found.loc["f"]
    assert (f["chosen_step"], f[OBJECTIVE], f[depth_metric(1)]) == (4, 0.76, 0.72)
    shallow = points(TRIALS, REPORTS, ObjectiveConfig(target="depth", depth=1)).set_index("trial_id")
    assert (shallow.loc["f", "chosen_step"], shallow.loc["f", depth_metric(1)]) == (8, 0.76)


def test_the_pareto_front_holds_exactly_the_unbeaten_points():
    objective = ObjectiveConfig(target="pareto", depth=1)
    front = pareto_front(points(TRIALS, REPORTS, objective), objective)
    # With each objective's best taken on its own, f would be (0.76, 0.76) and g would drop off the front.
    assert front["trial_id"].tolist() == ["a", "f", "g", "c"]


@pytest.mark.parametrize(("pick", "expected"), [("balanced", "g"), ("full", "a"), ("depth", "c")])
def test_the_retrained_pareto_point_follows_pick_and_lies_on_the_front(pick, expected):
    objective = ObjectiveConfig(target="pareto", depth=1, pick=pick)
    best = select_best(TRIALS, REPORTS, objective)
    assert best["trial_id"] == expected
    assert expected in pareto_front(points(TRIALS, REPORTS, objective), objective)["trial_id"].tolist()


@pytest.mark.parametrize(
    ("objective", "expected", "step"),
    [
        (ObjectiveConfig(), "a", 4),
        (ObjectiveConfig(target="depth", depth=1), "c", 4),
        (ObjectiveConfig(target="mean_depths"), "c", 4),
    ],
)
def test_a_single_objective_retrains_its_best_completed_trial(objective, expected, step):
    best = select_best(TRIALS, REPORTS, objective)
    assert (best["trial_id"], best["chosen_step"]) == (expected, step)


def test_no_completed_trial_means_nothing_to_retrain():
    pruned = TRIALS.assign(status="pruned")
    with pytest.raises(NoResultsError, match="no trial completed"):
        select_best(pruned, REPORTS, ObjectiveConfig())


@pytest.mark.parametrize(
    ("objective", "weights"),
    [
        (ObjectiveConfig(), [0, 0, 0, 1]),
        (ObjectiveConfig(target="depth", depth=2), [0, 1, 0, 0]),
        (ObjectiveConfig(target="mean_depths"), [0.25] * 4),
        (ObjectiveConfig(target="pareto", depth=1), [0.5, 0, 0, 0.5]),
        (ObjectiveConfig(target="pareto", depth=1, pick="full"), [0, 0, 0, 1]),
        (ObjectiveConfig(target="pareto", depth=1, pick="depth"), [1, 0, 0, 0]),
    ],
)
def test_the_objective_on_sts_test_weighs_the_depths_its_selection_ranks_by(objective, weights):
    assert objective.depth_weights(4) == pytest.approx(weights)
