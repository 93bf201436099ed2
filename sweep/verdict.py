"""Is the retrained best config really better than the reference defaults? One verdict per depth, with
its uncertainty, from the STS-test cosine similarities of every retrain run.

Two sources of noise, two intervals, both paired (the two configs share seeds and test pairs):

- seeds: the per-seed difference best − defaults (same seed, same data), its mean and a Student-t 95%
  interval over the seeds; it needs two seeds or more;
- test pairs: a paired bootstrap over the STS-test pairs, both configs scored on the same resampled
  pairs (the mean over seeds of each config's Spearman), percentile 95% interval; it works with one seed.

The verdict's ``interval`` spans both, so "better" or "worse" needs each of them to exclude zero on the
same side; anything else is "no detectable difference".
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 1000  # enough for stable 2.5% / 97.5% percentiles; each costs one ranking per run and depth
BATCH = 200  # resamples ranked at once: bounds the memory to a few MB per seed
SEED = 0  # a fixed stream, so that `sweep report` rewrites the same report.json
BETTER, SAME, WORSE = "better", "no detectable difference", "worse"


def spearman_rows(gold: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Spearman's ρ of ``gold`` with each row of ``predicted`` along the last axis (ties get mean ranks)."""
    return _pearson_of_ranks(stats.rankdata(gold, axis=-1), predicted)


def _pearson_of_ranks(ranked_gold: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    ranked = stats.rankdata(predicted, axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        rho = stats.pearsonr(np.broadcast_to(ranked_gold, ranked.shape), ranked, axis=-1).statistic
    # A constant prediction (a collapsed model) has no correlation: 0, as the reported STS scores count it.
    return np.nan_to_num(rho, nan=0.0)


def _mean_difference(gold: np.ndarray, best: np.ndarray, default: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean over seeds (the first axis) of ρ(best) − ρ(default); vectorised over bootstrap batches."""
    ranked_gold = stats.rankdata(gold, axis=-1)  # once for both configs
    return _pearson_of_ranks(ranked_gold, best).mean(axis=0) - _pearson_of_ranks(ranked_gold, default).mean(axis=0)


def compare(gold: np.ndarray, best: np.ndarray, default: np.ndarray) -> dict[str, Any]:
    """Best vs defaults at one depth: ``best`` and ``default`` are (seeds, pairs) cosine similarities, the
    same seeds in the same order; ``gold`` the pairs' scores. Returns the verdict dict (see module doc)."""
    per_seed = spearman_rows(gold, best) - spearman_rows(gold, default)
    delta = float(per_seed.mean())
    seed_interval = _seed_interval(per_seed)
    bootstrap = stats.bootstrap(
        (gold, best, default),
        _mean_difference,
        n_resamples=RESAMPLES,
        batch=BATCH,
        paired=True,
        vectorized=True,
        axis=-1,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(SEED),
    ).confidence_interval
    boot_interval = [_plain(bootstrap.low, delta), _plain(bootstrap.high, delta)]
    intervals = [boot_interval] + ([seed_interval] if seed_interval else [])
    interval = [min(low for low, _ in intervals), max(high for _, high in intervals)]
    says = BETTER if interval[0] > 0 else WORSE if interval[1] < 0 else SAME
    method = f"paired bootstrap over {gold.shape[-1]} STS-test pairs ({RESAMPLES} resamples, percentile)"
    if seed_interval:
        method = f"paired t over {len(per_seed)} seeds and {method}; the interval spans both"
    return {
        "says": says,
        "delta": delta,
        "interval": interval,
        "method": method,
        "seed_interval": seed_interval,
        "bootstrap_interval": boot_interval,
        "per_seed_delta": [float(d) for d in per_seed],
        "text": describe(says, delta, interval),
    }


def _seed_interval(per_seed: np.ndarray) -> list[float] | None:
    """Student-t interval of the mean per-seed difference; None for one seed (there is no spread)."""
    if len(per_seed) < 2:
        return None
    if np.ptp(per_seed) == 0:
        return [float(per_seed[0])] * 2  # every seed gave the same difference (the same runs, say)
    low, high = stats.ttest_1samp(per_seed, 0.0).confidence_interval(CONFIDENCE)
    return [float(low), float(high)]


def _plain(value: float, fallback: float) -> float:
    """A float for JSON; a bootstrap whose every resample gave one value has a NaN bound: that value."""
    return float(value) if np.isfinite(value) else fallback


def describe(says: str, delta: float, interval: list[float]) -> str:
    """``better by 2.31 (95% interval 1.10..3.52)``, in Spearman ×100 points as report.md shows them."""
    span = f"95% interval {100 * interval[0]:+.2f}..{100 * interval[1]:+.2f}"
    if says == SAME:
        return f"{SAME} ({100 * delta:+.2f}, {span})"
    return f"{says} by {abs(100 * delta):.2f} ({span})"


def verdicts(gold: np.ndarray, best: np.ndarray, default: np.ndarray) -> dict[str, Any]:
    """``{"full": ..., "per_depth": [...]}`` from (seeds, depths, pairs) similarity arrays; full depth is
    the last depth (the model with every layer)."""
    per_depth = [{"depth": d + 1, **compare(gold, best[:, d], default[:, d])} for d in range(best.shape[1])]
    return {"full": per_depth[-1], "per_depth": per_depth}
