"""Each scheduler worked by hand through Ray Tune's public scheduler interface: which trial stops at which
evaluation, and for PASHA when its top rung grows."""

from __future__ import annotations

import pytest
from ray.tune.schedulers import TrialScheduler

from sweep.config.experiment import load_config
from sweep.tuning.pasha import rung_levels
from sweep.tuning.rungs import ReplayedTrial
from sweep.tuning.schedulers import MarkRanked, build_scheduler, ranked
from tests.conftest import SMOKE
from trainables.metrics import RANKED

METRIC = "sts_dev_spearman_cosine"  # the smoke recipe's objective.prune_on
GO, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP


def _scheduler(*overrides: str, max_t: int = 8):
    return build_scheduler(load_config(SMOKE, [*overrides, "scheduler.patience=null"]), max_t)


def _run(scheduler, trial_id: str, scores: list[float]) -> list[str]:
    """Tell ``scheduler`` one trial's reports in order until it stops it; its decisions."""
    trial = ReplayedTrial(trial_id)
    scheduler.on_trial_add(None, trial)
    decisions = []
    for at, score in enumerate(scores, start=1):
        decisions.append(scheduler.on_trial_result(None, trial, {"training_iteration": at, METRIC: score}))
        if decisions[-1] == STOP:
            break
    last = {"training_iteration": len(decisions), METRIC: scores[len(decisions) - 1]}
    scheduler.on_trial_complete(None, trial, last)
    return decisions


def test_pashas_rungs_sit_where_ashas_do_then_the_full_budget():
    assert rung_levels(8, 1, 2) == [1, 2, 4, 8]
    assert rung_levels(9, 1, 3) == [1, 3, 9]
    assert rung_levels(10, 3, 3) == [3, 9, 10]
    assert rung_levels(16, 1, 2.5) == [1, 3, 7, 16]  # 2.5 and 6.25 are judged at the reports that reach them
    assert rung_levels(4, 1, 1.0000001) == [1, 2, 3, 4]  # millions of rungs, four a report can tell apart


def test_pasha_ranks_at_its_second_rung_until_the_ranking_there_changes_then_grows_by_one_rung():
    pasha = _scheduler("scheduler.type=pasha", "scheduler.grace_period=1", "scheduler.reduction_factor=2")
    assert pasha.budget == 2  # rungs 1, 2, 4, 8: the top starts at the second
    # a reaches the top rung (2 evaluations): ranked there, completed; one trial cannot disagree with itself.
    assert _run(pasha, "a", [0.50, 0.60, 0.70]) == [GO, STOP]
    assert ranked(pasha) == {"a": 2} and pasha.budget == 2
    # b is below the median of rung 1 (0.50): stopped there, as ASHA stops it.
    assert _run(pasha, "b", [0.40, 0.90]) == [STOP]
    # c passes rung 1 (cutoff 0.45) and is ranked at 2; at rung 1 it led a (0.55 > 0.50), at 2 it trails
    # (0.58 < 0.60) and no pair flipped and flipped back, so epsilon is 0: the ranking changed, the top grows.
    assert _run(pasha, "c", [0.55, 0.58, 0.99]) == [GO, STOP]
    assert ranked(pasha) == {"a": 2, "c": 2} and pasha.budget == 4
    # d now runs to 4: past rung 2 (cutoff 0.59 of a and c), ranked at 4, alone there: the budget stays.
    assert _run(pasha, "d", [0.70, 0.72, 0.73, 0.74, 0.75]) == [GO, GO, GO, STOP]
    assert ranked(pasha) == {"a": 2, "c": 2, "d": 4} and pasha.budget == 4


def test_pasha_keeps_its_budget_while_the_top_two_rungs_agree():
    pasha = _scheduler("scheduler.type=pasha", "scheduler.grace_period=1", "scheduler.reduction_factor=2")
    for trial_id, scores in (("a", [0.50, 0.60]), ("b", [0.52, 0.62]), ("c", [0.56, 0.66])):
        assert _run(pasha, trial_id, [*scores, 0.9]) == [GO, STOP]
    assert pasha.budget == 2 and set(ranked(pasha)) == {"a", "b", "c"}


def test_pasha_at_the_full_budget_lets_the_trial_end_itself():
    pasha = _scheduler("scheduler.type=pasha", "scheduler.grace_period=1", "scheduler.reduction_factor=2", max_t=2)
    assert pasha.budget == 2  # rungs 1 and the full budget 2
    assert _run(pasha, "a", [0.5, 0.6]) == [GO, GO] and ranked(pasha) == {}


def test_the_median_rule_stops_a_trial_whose_best_is_below_the_others_running_means_median():
    median = _scheduler("scheduler.type=median", "scheduler.grace_period=2", "scheduler.min_samples_required=2")
    assert _run(median, "a", [0.50, 0.60, 0.70]) == [GO, GO, GO]  # alone: too few others to judge
    assert _run(median, "b", [0.60, 0.80, 0.80]) == [GO, GO, GO]  # one other only
    # At evaluation 2 the running means from the grace period on are a 0.60 and b 0.80: median 0.70. c's
    # best so far, 0.65, is below it; at evaluation 1 (inside the grace period) nothing is judged.
    assert _run(median, "c", [0.65, 0.64, 0.99]) == [GO, STOP]
    assert _run(median, "d", [0.50, 0.75, 0.99]) == [GO, GO, GO]  # its best 0.75 reaches the median


def test_hyperband_with_one_bracket_decides_as_asha_does():
    reports = {"a": [0.5, 0.6, 0.7, 0.8], "b": [0.4, 0.5, 0.6, 0.7], "c": [0.6, 0.5, 0.4, 0.3], "d": [0.3] * 4}
    for rf in (2, 3):
        asha = _scheduler(f"scheduler.reduction_factor={rf}", max_t=4)
        one = ("scheduler.type=hyperband", "scheduler.brackets=1")
        band = _scheduler(*one, f"scheduler.reduction_factor={rf}", max_t=4)
        assert [_run(asha, t, s) for t, s in reports.items()] == [_run(band, t, s) for t, s in reports.items()]


def test_hyperbands_brackets_follow_the_search_seed_so_a_replay_repeats_the_sweeps_decisions():
    reports = {f"t{i}": [0.5 + 0.01 * ((i * 7) % 11) * k for k in range(1, 9)] for i in range(24)}

    def decisions(seed: int) -> list[list[str]]:
        band = _scheduler("scheduler.type=hyperband", "scheduler.brackets=3", f"search.seed={seed}")
        return [_run(band, trial_id, scores) for trial_id, scores in reports.items()]

    assert decisions(1) == decisions(1)
    assert any(decisions(seed) != decisions(1) for seed in (2, 3, 4))  # the brackets differ, so do decisions


def test_the_report_a_trial_was_ranked_at_is_marked_completed_and_no_other():
    pasha = _scheduler("scheduler.type=pasha", "scheduler.grace_period=1", "scheduler.reduction_factor=2")
    mark = MarkRanked(pasha)
    trial = ReplayedTrial("a")
    pasha.on_trial_add(None, trial)
    first, second = ({"training_iteration": at, METRIC: score} for at, score in ((1, 0.5), (2, 0.6)))
    for report in (first, second):
        pasha.on_trial_result(None, trial, report)
        mark.on_trial_result(0, [], trial, report)
    assert "completed" not in first and second["completed"] is True and second[RANKED] is True


@pytest.mark.parametrize("kind", ["asha", "median", "none"])
def test_schedulers_other_than_pasha_rank_no_trial(kind):
    assert ranked(_scheduler(f"scheduler.type={kind}")) == {}
