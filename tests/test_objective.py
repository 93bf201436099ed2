"""The objective option: validation, what the Tuner is built with, and which trial is retrained."""

from __future__ import annotations

import pandas as pd
import pytest
from ray.tune.schedulers import ASHAScheduler

from sweep.config import load_config
from sweep.experiment import prepare
from sweep.objective import ObjectiveConfig, pareto_front, pick_point, select_best
from sweep.tuner import build_tuner
from trainables.errors import InputError
from trainables.metrics import MEAN_DEPTH, OBJECTIVE, depth_metric

from .conftest import SMOKE


def built(tmp_path, *overrides):
    prepared = prepare(load_config(SMOKE, [f"results_dir={tmp_path}", *overrides]))
    tuner = build_tuner(prepared.config, prepared.data, prepared.plan, tmp_path / "x")._local_tuner
    config = tuner._tune_config
    return config.search_alg.searcher, config.scheduler, config


def test_two_objectives_give_optuna_both_metrics_and_asha_one(tmp_path):
    searcher, scheduler, tune_config = built(tmp_path, "objective.target=pareto", "objective.depth=2")
    assert searcher.metric == [OBJECTIVE, depth_metric(2)] and searcher.mode == ["max", "max"]
    assert isinstance(scheduler, ASHAScheduler) and (scheduler.metric, scheduler._mode) == (OBJECTIVE, "max")
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


def frame(rows):
    columns = ["trial_id", "status", "sts_dev_best", "sts_dev_best_depth_1", "sts_dev_best_mean_depth"]
    return pd.DataFrame(rows, columns=columns)


TRIALS = frame(
    [
        ("a", "completed", 0.80, 0.60, 0.70),  # best at full depth
        ("b", "pruned", 0.75, 0.72, 0.74),  # best balance, best mean
        ("c", "completed", 0.70, 0.74, 0.72),  # best shallow
        ("d", "completed", 0.69, 0.59, 0.65),  # beaten by every other
        ("e", "errored", 0.99, 0.99, 0.99),  # errored trials never count
        ("f", "completed", 0.74, 0.71, 0.725),  # beaten by b on both
    ]
)


def test_the_pareto_front_holds_exactly_the_unbeaten_trials():
    objective = ObjectiveConfig(target="pareto", depth=1)
    assert pareto_front(TRIALS, objective)["trial_id"].tolist() == ["a", "b", "c"]


@pytest.mark.parametrize(("pick", "expected"), [("balanced", "b"), ("full", "a"), ("depth", "c")])
def test_the_retrained_pareto_point_follows_pick(pick, expected):
    objective = ObjectiveConfig(target="pareto", depth=1, pick=pick)
    assert pick_point(pareto_front(TRIALS, objective), objective)["trial_id"] == expected
    assert select_best(TRIALS, objective)["trial_id"] == expected


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (ObjectiveConfig(), "a"),
        (ObjectiveConfig(target="depth", depth=1), "c"),
        (ObjectiveConfig(target="mean_depths"), "b"),
    ],
)
def test_a_single_objective_retrains_its_best_trial(objective, expected):
    assert select_best(TRIALS, objective)["trial_id"] == expected
