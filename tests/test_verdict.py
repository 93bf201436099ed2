"""The verdict on best vs defaults: known answers on synthetic scores, intervals as scipy computes them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sweep import verdict
from sweep.verdict import BETTER, SAME, WORSE, compare, verdicts

PAIRS = 400


@pytest.fixture(scope="module")
def gold():
    return np.round(np.random.default_rng(0).random(PAIRS), 1)  # STS gold scores repeat: ties


def predictions(gold, noise: float, seeds: int, offset: int = 0) -> np.ndarray:
    """One row per seed: the gold scores blurred by ``noise``; less noise, better Spearman."""
    rng = np.random.default_rng(100 + offset)
    return gold + rng.normal(0, noise, (seeds, len(gold)))


@pytest.mark.parametrize(("best_noise", "default_noise", "says"), [(0.1, 0.5, BETTER), (0.5, 0.1, WORSE)])
def test_clear_differences_are_called_with_an_interval_on_their_side_of_zero(gold, best_noise, default_noise, says):
    result = compare(gold, predictions(gold, best_noise, 3), predictions(gold, default_noise, 3, offset=1))
    low, high = result["interval"]
    assert result["says"] == says
    assert (low > 0) if says == BETTER else (high < 0)
    assert low <= result["delta"] <= high


def test_the_same_models_are_no_detectable_difference(gold):
    same = predictions(gold, 0.3, 3)
    result = compare(gold, same, same)
    assert result["says"] == SAME and result["delta"] == 0 and result["interval"] == [0.0, 0.0]


def test_two_configs_of_equal_quality_are_no_detectable_difference(gold):
    # The same noise level, other draws: any gap is noise, so the interval must cover zero.
    result = compare(gold, predictions(gold, 0.3, 3), predictions(gold, 0.3, 3, offset=7))
    low, high = result["interval"]
    assert result["says"] == SAME and low < 0 < high


def test_the_seed_interval_is_scipys_t_interval_of_the_per_seed_differences(gold):
    best, default = predictions(gold, 0.2, 4), predictions(gold, 0.3, 4, offset=1)
    result = compare(gold, best, default)
    per_seed = [stats.spearmanr(gold, b)[0] - stats.spearmanr(gold, d)[0] for b, d in zip(best, default, strict=True)]
    assert result["per_seed_delta"] == pytest.approx(per_seed)
    expected = stats.t.interval(0.95, len(per_seed) - 1, loc=np.mean(per_seed), scale=stats.sem(per_seed))
    assert result["seed_interval"] == pytest.approx(list(expected))
    assert result["interval"][0] <= min(result["seed_interval"][0], result["bootstrap_interval"][0])


def test_the_bootstrap_is_scipys_paired_bootstrap_of_the_spearman_difference(gold):
    best, default = predictions(gold, 0.2, 1), predictions(gold, 0.3, 1, offset=1)
    result = compare(gold, best, default)
    reference = stats.bootstrap(
        (gold, best[0], default[0]),
        lambda g, b, d: stats.spearmanr(g, b)[0] - stats.spearmanr(g, d)[0],
        n_resamples=verdict.RESAMPLES,
        batch=verdict.BATCH,
        paired=True,
        vectorized=False,
        method="percentile",
        rng=np.random.default_rng(verdict.SEED),
    ).confidence_interval
    assert result["bootstrap_interval"] == pytest.approx([reference.low, reference.high], abs=1e-9)


def test_one_seed_has_no_seed_interval_and_the_verdict_still_stands(gold):
    result = compare(gold, predictions(gold, 0.1, 1), predictions(gold, 0.5, 1, offset=1))
    assert result["seed_interval"] is None
    assert result["interval"] == result["bootstrap_interval"] and result["says"] == BETTER
    assert "seeds" not in result["method"] and "bootstrap" in result["method"]


def test_every_depth_gets_a_verdict_and_full_depth_is_the_last(gold):
    best = np.stack([predictions(gold, noise, 2, offset=i) for i, noise in enumerate((0.1, 0.3))], axis=1)
    default = np.stack([predictions(gold, 0.3, 2, offset=10 + i) for i in range(2)], axis=1)
    result = verdicts(gold, best, default)
    assert [v["depth"] for v in result["per_depth"]] == [1, 2]
    assert result["full"] == result["per_depth"][-1]
    assert result["per_depth"][0]["says"] == BETTER


def test_the_words_give_the_difference_and_its_interval_in_points():
    assert verdict.describe(BETTER, 0.0231, [0.011, 0.0352]) == "better by 2.31 (95% interval +1.10..+3.52)"
    same = "no detectable difference (-0.10, 95% interval -1.00..+0.80)"
    assert verdict.describe(SAME, -0.001, [-0.01, 0.008]) == same


def test_a_collapsed_model_scores_zero_and_the_verdict_stays_a_number(gold):
    collapsed = np.ones((2, len(gold)))  # every pair equally similar: no correlation, as evaluate_sts counts it
    result = compare(gold, predictions(gold, 0.2, 2), collapsed)
    assert result["says"] == BETTER and all(np.isfinite([result["delta"], *result["interval"]]))
