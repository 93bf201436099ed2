"""What Optuna is told of each finished trial during a sweep: finished trials the scores of their chosen
evaluation, trials ASHA stopped that they were pruned, failed trials that they failed."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from sweep.config.experiment import load_config
from sweep.tuning.searcher import Told, build_searcher, told
from sweep.tuning.space import param_space
from trainables.metrics import FAILURE, OBJECTIVE
from trainables.selection import Selection

from .conftest import SMOKE


def _report(step: int, score: float | None, completed: bool = False, iteration: int = 1, **extra) -> dict:
    row = {"step": step, "completed": completed, "training_iteration": iteration, **extra}
    if score is not None:
        row[OBJECTIVE] = score
    return row


@pytest.fixture
def searcher():
    config = load_config(SMOKE)
    limiter = build_searcher(config)
    limiter.set_search_properties(OBJECTIVE, "max", param_space(config.space, config.reference))
    return limiter.searcher


def _run(searcher, trial_id: str, reports: list[dict], stopped_at: dict | None = None, error: bool = False):
    """Feed reports the way Tune does: each through on_trial_result, except the one ASHA stops the trial
    on, which only reaches on_trial_complete; a finished trial's last result comes again at the end."""
    assert searcher.suggest(trial_id) is not None
    for report in reports:
        searcher.on_trial_result(trial_id, report)
    final = stopped_at if stopped_at is not None else (reports[-1] if reports else None)
    searcher.on_trial_complete(trial_id, None if error else final, error=error)
    return searcher.study().trials[-1]


def test_a_finished_trial_is_told_its_best_score_and_a_pruned_one_that_it_was_pruned(searcher):
    # Peaks early and declines, as the CPU recipe's trials do: the last score would undersell it.
    done = _run(searcher, "done", [_report(4, 0.60), _report(8, 0.66, iteration=2), _report(12, 0.63, True, 3)])
    assert (done.state, done.value) == (TrialState.COMPLETE, 0.66)

    # Stopped at its first rung with a higher early score than the finished trial's best.
    cut = _run(searcher, "cut", [], stopped_at=_report(4, 0.70))
    assert (cut.state, cut.intermediate_values) == (TrialState.PRUNED, {1: 0.70})
    assert searcher.study().best_trial.number == done.number  # an early score does not outrank a finished run


def test_failures_and_retries(searcher):
    nan = _run(searcher, "nan", [_report(4, 0.6), _report(6, float("nan"), iteration=2, **{FAILURE: "loss nan"})])
    assert nan.state == TrialState.FAIL

    raised = _run(searcher, "raised", [_report(4, 0.6)], error=True)
    assert raised.state == TrialState.FAIL

    # A retried trial starts again from step 1: only its last attempt's scores count.
    first = [_report(4, 0.90), _report(8, 0.95, iteration=2)]
    with pytest.warns(UserWarning, match="already reported"):  # Optuna keeps the first attempt's intermediates
        retried = _run(searcher, "retried", [*first, _report(4, 0.50), _report(8, 0.55, True, 2)])
    assert (retried.state, retried.value) == (TrialState.COMPLETE, 0.55)


def test_two_objectives_are_told_both_values_of_one_evaluation_never_each_ones_best():
    metrics = [OBJECTIVE, "other"]
    rows = [{"step": 4, OBJECTIVE: 0.5, "other": 0.7}, {"step": 8, OBJECTIVE: 0.6, "other": 0.2, "completed": True}]
    balanced = Selection(tuple(metrics), average=True)
    assert told(rows, metrics, balanced) == Told("complete", [0.5, 0.7])  # step 4: the better mean
    assert told(rows, metrics, Selection(tuple(metrics))) == Told("complete", [0.6, 0.2])  # step 8: better full
    assert told(rows, metrics, Selection(("other", OBJECTIVE))) == Told("complete", [0.5, 0.7])


def test_told_from_reports_alone():
    metrics = [OBJECTIVE, "other"]
    rule = Selection(tuple(metrics), average=True)
    rows = [{"step": 4, OBJECTIVE: 0.5, "other": 0.7}, {"step": 8, OBJECTIVE: 0.6, "other": 0.2, "completed": True}]
    assert told(rows[:1], metrics, rule) == Told("pruned")
    assert told([], metrics, rule) == Told("pruned")
    nan = [{"step": 8, OBJECTIVE: float("nan"), "other": 0.2, "completed": True}]
    assert told(nan, metrics, rule) == Told("failed")
    assert told([{"step": 8, OBJECTIVE: 0.6, "other": 0.2, "completed": float("nan")}], metrics, rule) == Told("pruned")
    assert told(rows, [OBJECTIVE], Selection((OBJECTIVE,))) == Told("complete", [0.6])
