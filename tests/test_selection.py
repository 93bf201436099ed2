"""Which evaluation of a run is its best, and keeping that evaluation's weights."""

from __future__ import annotations

import torch

from trainables.selection import BestWeights, Selection


def test_one_metric_picks_the_highest_and_the_earliest_of_equal_scores():
    rows = [{"m": 0.5}, {"m": 0.7}, {"m": 0.7}, {"m": float("nan")}, {"m": 0.6}]
    assert Selection(("m",)).choose(rows) == 1
    assert Selection(("m",)).choose([{"m": float("nan")}, {"other": 1.0}]) is None


def test_two_metrics_rank_by_their_mean_or_by_one_then_the_other():
    rows = [{"a": 0.9, "b": 0.1}, {"a": 0.6, "b": 0.6}, {"a": 0.9, "b": 0.2}]
    assert Selection(("a", "b"), average=True).choose(rows) == 1
    assert Selection(("a", "b")).choose(rows) == 2  # a ties at 0.9, b breaks it
    assert Selection(("b", "a")).choose(rows) == 1


def test_the_kept_weights_are_a_copy_that_later_training_does_not_touch(tiny_model):
    kept = BestWeights(Selection(("m",)))
    kept.offer(tiny_model, {"step": 4, "m": 0.5})
    first = {key: value.clone() for key, value in tiny_model.state_dict().items()}
    with torch.no_grad():
        for parameter in tiny_model.parameters():
            parameter.add_(1.0)
    kept.offer(tiny_model, {"step": 8, "m": 0.4})  # worse: the step-4 weights stay
    assert kept.row == {"step": 4, "m": 0.5}
    kept.restore(tiny_model)
    assert all(torch.equal(value, first[key]) for key, value in tiny_model.state_dict().items())
