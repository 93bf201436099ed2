"""The verdict on best vs defaults: known answers on synthetic scores, intervals as scipy computes them, and
by simulation, the interval's coverage with both noises and the familywise rate over depths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sweep.report import verdict
from sweep.report.verdict import BETTER, EQUIVALENT, INCONCLUSIVE, WORSE, combine, compare, outcome, verdicts

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
    low, high = result["adjusted_interval"]
    assert result["says"] == says
    assert (low > 0) if says == BETTER else (high < 0)
    assert low <= result["delta"] <= high


def test_the_same_models_are_equivalent(gold):
    same = predictions(gold, 0.3, 3)
    result = compare(gold, same, same)
    assert result["says"] == EQUIVALENT and result["delta"] == 0 and result["interval"] == [0.0, 0.0]


def test_two_configs_of_equal_quality_are_not_called_different(gold):
    # The same noise level, other draws: any gap is noise, so the interval must cover zero; 400 pairs
    # cannot pin the difference within ±0.5 points, so the answer is that the data cannot tell.
    result = compare(gold, predictions(gold, 0.3, 3), predictions(gold, 0.3, 3, offset=7))
    low, high = result["interval"]
    assert result["says"] == INCONCLUSIVE and low < 0 < high


@pytest.mark.parametrize(
    ("interval", "says"),
    [([0.001, 0.02], BETTER), ([-0.02, -0.001], WORSE), ([-0.004, 0.0049], EQUIVALENT), ([-0.004, 0.02], INCONCLUSIVE)],
)
def test_four_outcomes_from_the_interval_and_the_margin(interval, says):
    assert outcome(interval, margin=0.005) == says


def test_the_seed_interval_is_scipys_t_interval_of_the_per_seed_differences(gold):
    best, default = predictions(gold, 0.2, 4), predictions(gold, 0.3, 4, offset=1)
    result = compare(gold, best, default)
    components = result["components"]
    per_seed = [stats.spearmanr(gold, b)[0] - stats.spearmanr(gold, d)[0] for b, d in zip(best, default, strict=True)]
    assert components["per_seed_delta"] == pytest.approx(per_seed)
    expected = stats.t.interval(0.95, len(per_seed) - 1, loc=np.mean(per_seed), scale=stats.sem(per_seed))
    assert components["seed_interval"] == pytest.approx(list(expected))
    assert components["seed_variance"] == pytest.approx(stats.sem(per_seed) ** 2)
    # One interval for both: wider than either noise alone would give at the same degrees of freedom.
    total = components["seed_variance"] + components["pair_variance"]
    df = total**2 / (components["seed_variance"] ** 2 / 3)
    assert components["df"] == pytest.approx(df)
    half = stats.t.ppf(0.975, df) * np.sqrt(total)
    assert result["interval"] == pytest.approx([result["delta"] - half, result["delta"] + half])


def test_the_pair_bootstrap_agrees_with_scipys_paired_bootstrap_of_the_spearman_difference(gold):
    """The verdict resamples the test pairs once per arm (the same resamples for every arm, so that each
    comparison is paired and an arm's draws serve all of its comparisons); scipy's paired bootstrap of the
    same statistic, with its own resamples, must find the same interval up to resampling noise."""
    best, default = predictions(gold, 0.2, 1), predictions(gold, 0.3, 1, offset=1)
    result = compare(gold, best, default)
    reference = stats.bootstrap(
        (gold, best[0], default[0]),
        lambda g, b, d: stats.spearmanr(g, b)[0] - stats.spearmanr(g, d)[0],
        n_resamples=verdict.RESAMPLES,
        paired=True,
        vectorized=False,
        method="percentile",
        rng=np.random.default_rng(1),
    ).confidence_interval
    low, high = result["components"]["bootstrap_interval"]
    width = reference.high - reference.low
    assert low == pytest.approx(reference.low, abs=0.15 * width) and high == pytest.approx(
        reference.high, abs=0.15 * width
    )
    # The draws behind it are the mean over seeds of ρ on resampled pairs, one row per resample.
    draws = verdict.resampled_spearman(gold, best)
    assert draws.shape == (verdict.RESAMPLES,) and np.percentile(draws, 50) == pytest.approx(
        stats.spearmanr(gold, best[0])[0], abs=0.01
    )


def test_one_seed_has_no_seed_interval_and_says_its_interval_holds_the_pairs_noise_only(gold):
    result = compare(gold, predictions(gold, 0.1, 1), predictions(gold, 0.5, 1, offset=1))
    components = result["components"]
    assert components["seed_interval"] is None and components["seed_variance"] == 0 and components["df"] is None
    assert result["says"] == BETTER and "the seeds' noise is not measured" in result["method"]


def test_every_depth_gets_a_verdict_and_full_depth_is_the_last(gold):
    best = np.stack([predictions(gold, noise, 2, offset=i) for i, noise in enumerate((0.1, 0.3))], axis=1)
    default = np.stack([predictions(gold, 0.3, 2, offset=10 + i) for i in range(2)], axis=1)
    result = verdicts(gold, best, default)
    assert [v["depth"] for v in result["per_depth"]] == [1, 2]
    assert result["full"] == result["per_depth"][-1] and result["margin"] == verdict.MARGIN
    assert result["per_depth"][0]["says"] == BETTER
    for entry in result["per_depth"]:  # two depths judged together: each adjusted interval is wider
        (low, high), (adjusted_low, adjusted_high) = entry["interval"], entry["adjusted_interval"]
        assert adjusted_low < low and high < adjusted_high and "Bonferroni over 2 depths" in entry["method"]


def test_the_words_give_the_difference_and_its_intervals_in_points():
    better = {"delta": 0.0231, "interval": [0.011, 0.0352], "adjusted_interval": [0.008, 0.0382]}
    assert verdict.describe(BETTER, better) == "better by 2.31 (95% interval +1.10..+3.52, adjusted +0.80..+3.82)"
    unclear = {"delta": -0.001, "interval": [-0.01, 0.008], "adjusted_interval": [-0.01, 0.008]}
    assert verdict.describe(INCONCLUSIVE, unclear) == (
        "inconclusive (-0.10, 95% interval -1.00..+0.80; neither a difference nor equivalence within ±0.50)"
    )


def test_a_collapsed_model_scores_zero_and_the_verdict_stays_a_number(gold):
    collapsed = np.ones((2, len(gold)))  # every pair equally similar: no correlation, as evaluate_sts counts it
    result = compare(gold, predictions(gold, 0.2, 2), collapsed)
    assert result["says"] == BETTER and all(np.isfinite([result["delta"], *result["interval"]]))


# By simulation: per-seed differences and the test pairs' bootstrap built from a two-way design whose
# true difference is known, x[seed, pair] = truth + seed effect + pair effect + noise, its statistic the
# mean over seeds and pairs, the seed and the pair parts of its variance equal.
SEEDS, SIM_PAIRS, REPLICATES, DRAWS = 5, 400, 2000, 400
SEED_SD = 0.01  # of one seed's difference; the mean over 5 seeds then varies by SEED_SD / sqrt(5)
PAIR_SD = SEED_SD / np.sqrt(SEEDS)  # of the mean over one draw of test pairs: as much as the seeds' part
CELL_SD = 0.02


def _simulated(rng, truth: float, depths: int = 1, shared: float = 0.0, union: bool = False) -> list[dict]:
    """One replicate: a verdict per depth, ``depths`` judged together; ``shared``: how much of the seed and
    pair effects the depths share (their correlation)."""
    seed_common = rng.normal(0, SEED_SD, SEEDS)
    pair_common = rng.normal(0, PAIR_SD * np.sqrt(SIM_PAIRS), SIM_PAIRS)
    results = []
    for _ in range(depths):
        seed = shared * seed_common + np.sqrt(1 - shared**2) * rng.normal(0, SEED_SD, SEEDS)
        pair = shared * pair_common + np.sqrt(1 - shared**2) * rng.normal(0, PAIR_SD * np.sqrt(SIM_PAIRS), SIM_PAIRS)
        x = truth + seed[:, None] + pair[None, :] + rng.normal(0, CELL_SD, (SEEDS, SIM_PAIRS))
        columns = x.mean(axis=0)
        draws = columns[rng.integers(0, SIM_PAIRS, (DRAWS, SIM_PAIRS))].mean(axis=1)
        if union:  # the interval before this one: the union of the seeds' t-interval and the pairs' percentiles
            seeds = stats.t.interval(0.95, SEEDS - 1, loc=x.mean(), scale=stats.sem(x.mean(axis=1)))
            pairs = np.percentile(draws, [2.5, 97.5])
            results.append({"interval": [min(seeds[0], pairs[0]), max(seeds[1], pairs[1])]})
        else:
            results.append(combine(x.mean(axis=1), draws, tests=depths))
    return results


def test_the_interval_covers_the_true_difference_95_percent_of_the_time_with_both_noises_equal():
    rng = np.random.default_rng(5)
    truth = 0.01
    covered = [low <= truth <= high for low, high in (_simulated(rng, truth)[0]["interval"] for _ in range(REPLICATES))]
    assert 0.935 <= np.mean(covered) <= 0.965, np.mean(covered)
    union = [_simulated(rng, truth, union=True)[0]["interval"] for _ in range(REPLICATES)]
    assert np.mean([low <= truth <= high for low, high in union]) < 0.935  # each of the two misses a noise


def test_adjusting_for_six_depths_holds_the_familywise_rate_of_false_differences_down():
    """Under no difference at any of 6 correlated depths: how often at least one depth is called better or
    worse. Unadjusted, far above 5%; adjusted (Bonferroni, widths from the pivotal quantity), at most 5%."""
    rng = np.random.default_rng(6)
    adjusted = unadjusted = 0
    for _ in range(REPLICATES // 2):
        depths = _simulated(rng, 0.0, depths=6, shared=0.7)
        adjusted += any(outcome(v["adjusted_interval"]) in (BETTER, WORSE) for v in depths)
        unadjusted += any(outcome(v["interval"]) in (BETTER, WORSE) for v in depths)
    rate, raw = adjusted / (REPLICATES // 2), unadjusted / (REPLICATES // 2)
    assert raw > 0.12 and rate <= 0.05, (rate, raw)


def test_the_objective_is_judged_on_its_own_weighted_difference_as_the_primary_comparison(gold):
    best = np.stack([predictions(gold, noise, 3, offset=i) for i, noise in enumerate((0.2, 0.25, 0.3))], axis=1)
    default = np.stack([predictions(gold, 0.3, 3, offset=10 + i) for i in range(3)], axis=1)
    weights = [0.5, 0.0, 0.5]
    result = verdicts(gold, best, default, weights=weights, margin=0.01)
    objective, per_depth = result["objective"], result["per_depth"]
    assert objective["delta"] == pytest.approx(0.5 * per_depth[0]["delta"] + 0.5 * per_depth[2]["delta"])
    first, last = (per_depth[d]["components"]["per_seed_delta"] for d in (0, 2))
    expected = [0.5 * a + 0.5 * b for a, b in zip(first, last, strict=True)]
    assert objective["components"]["per_seed_delta"] == pytest.approx(expected)
    assert objective["interval"] == objective["adjusted_interval"] and "primary comparison" in objective["method"]
    assert objective["says"] == outcome(objective["interval"], 0.01) and objective["margin"] == 0.01
    # By default the objective is full depth: the same difference, judged without the depths' adjustment.
    plain = verdicts(gold, best, default)
    assert plain["objective"]["delta"] == pytest.approx(plain["full"]["delta"])
    assert plain["objective"]["interval"] == pytest.approx(plain["full"]["interval"])


def test_an_interval_never_reaches_past_what_a_difference_of_correlations_can_be():
    # Two seeds that disagree wildly: the seeds' one degree of freedom gives a half-width beyond ±2.
    found = combine(np.array([0.3, -0.3]), np.random.default_rng(0).normal(0, 0.01, 500), tests=6)
    for low, high in (found["interval"], found["adjusted_interval"]):
        assert -2.0 <= low < 0 < high <= 2.0
    assert found["adjusted_interval"] == [-2.0, 2.0]
