"""scheduler.patience: a trial ends itself once its STS-dev stops improving, and counts as completed."""

from __future__ import annotations

import math

import pytest

from sweep.config.experiment import SchedulerConfig, load_config
from sweep.report.document import describe_pruning
from sweep.store.folder import ExperimentFolder
from sweep.tuning.tuner import build_plateau, tuner_spec
from sweep.workflow.commands import prepare_sweep
from trainables.metrics import OBJECTIVE, depth_metric
from trainables.plateau import Plateau, PlateauTracker

from .conftest import SMOKE, first_without_new_best


def stalls(scores: list[float], patience: int) -> list[bool]:
    tracker = PlateauTracker(patience, OBJECTIVE)
    return [tracker.stalled(score) for score in scores]


def test_patience_counts_evaluations_in_a_row_without_a_new_best():
    assert stalls([0.5, 0.6, 0.6, 0.7, 0.65, 0.64], 2) == [False, False, False, False, False, True]
    assert stalls([0.5, 0.6, 0.6], 1) == [False, False, True]  # an equal score is no improvement
    assert stalls([0.5, 0.4, 0.6, 0.55, 0.7], 2) == [False] * 5  # each new best starts the count again
    assert stalls([0.5, math.nan, math.nan], 2) == [False, False, True]  # nor is a non-finite score
    assert stalls([math.nan, 0.1], 1) == [True, False]


def test_the_markdown_report_says_how_trials_were_stopped():
    asha = {"type": "asha", "grace_period": 1, "reduction_factor": 3.0}
    for scheduler, expected in [
        (
            {**asha, "patience": 2},
            "ASHA stopped weak trials on `m` (grace period 1 evaluation(s), reduction factor 3) "
            "and a trial ended itself after 2 evaluation(s) in a row without a new best.",
        ),
        (
            {**asha, "type": "none", "patience": 1},
            "a trial ended itself after 1 evaluation(s) in a row without a new best.",
        ),
        ({**asha, "type": "none", "patience": None}, "no trial was stopped early."),
        (asha, "ASHA stopped weak trials on `m` (grace period 1 evaluation(s), reduction factor 3)."),
    ]:
        assert describe_pruning({"scheduler": scheduler, "objective": {"prune_on": "m"}}) == expected


def test_the_config_turns_patience_on_for_the_metric_asha_judges():
    assert SchedulerConfig().patience is None  # off by default (dense evaluations dip and rise: benchmark 12)
    assert build_plateau(load_config(SMOKE)) is None
    depth_3 = ["objective.target=depth", "objective.depth=3"]
    assert build_plateau(load_config(SMOKE, ["scheduler.patience=2", *depth_3])) == Plateau(depth_metric(3), 2)
    on_full = ["scheduler.patience=1", *depth_3, "objective.prune_on=full"]
    assert build_plateau(load_config(SMOKE, on_full)) == Plateau(OBJECTIVE, 1)


@pytest.fixture(scope="module")
def patient_sweep(ray_session, tmp_path_factory):
    """A smoke sweep without ASHA, whose trials end themselves after one evaluation without a new best."""
    results = tmp_path_factory.mktemp("patience")
    overrides = ["scheduler.type=none", "scheduler.patience=1", "search.num_samples=3", "search.max_concurrent=1"]
    prepared = prepare_sweep(load_config(SMOKE, [*overrides, f"results_dir={results}"]))
    experiment = ExperimentFolder(results / "patience")
    tuner_spec(prepared.config, prepared.data, prepared.plan, experiment.files).tuner().fit()
    return experiment.live_results()


def test_in_a_sweep_each_trial_ends_at_its_first_evaluation_without_a_new_best(patient_sweep):
    trials, reports = patient_sweep
    assert (trials["status"] == "completed").all()
    ended_early = 0
    for index, trial in trials.iterrows():
        scores = reports.loc[reports["trial_index"] == index, OBJECTIVE].tolist()
        stop = first_without_new_best(scores)
        if stop is None:  # it kept improving: it ran its whole budget
            assert trial["steps"] == trial["total_steps"]
        else:
            assert stop == len(scores) - 1  # no report after the first one without a new best
            ended_early += int(trial["steps"] < trial["total_steps"])
        assert trial["sts_dev_best"] == max(scores)
    assert ended_early >= 1  # the smoke recipe's trials do stop improving
