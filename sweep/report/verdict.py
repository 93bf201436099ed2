"""Is the retrained best config really better than the reference defaults? One verdict per depth, with
its uncertainty, from the STS-test cosine similarities of every retrain run.

Two sources of noise, one interval for both. The two configs share seeds and test pairs (paired):

- seeds: the per-seed difference best − defaults (same seed, same data) varies from seed to seed; the
  variance of its mean is the sample variance over n seeds divided by n, with n − 1 degrees of freedom;
- test pairs: another draw of STS-test pairs would move the difference too; a paired bootstrap over the
  pairs (both configs scored on the same resampled pairs, the mean over seeds of each config's Spearman)
  gives the variance of that, its degrees of freedom many.

The 95% interval is the difference ± t × the square root of the summed variances, with Welch–Satterthwaite
degrees of freedom (the seed part's n − 1 weighted by its share). Per-depth verdicts are judged at once
over the model's L depths, so each uses a Bonferroni-adjusted interval (confidence 1 − 0.05 / L, so that
all L intervals hold together with 95%): ``adjusted_interval``. Far in the tail Satterthwaite's t is too
narrow when the seeds' variance comes from a few seeds (at 1 − 0.05/6 with 5 seeds it misses 1.3 to 1.8
times as often as it should, by simulation), so the adjusted interval takes its width from a generalized
pivotal quantity instead (Weerahandi, 1993: the difference's spread with the seed variance drawn from
its chi-square fiducial distribution, the pairs' held at their bootstrap estimate), which keeps every
depth's miss rate at or below its share of the 5%. Four outcomes: **better** or **worse** when
the adjusted interval excludes zero on that side, **equivalent** when it lies within ± ``margin``
(``MARGIN``: 0.5 Spearman points unless given), **inconclusive** otherwise: the data cannot tell. With one
seed the seed part cannot be measured; the interval then holds the test pairs' noise only, and says so.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
MARGIN = 0.005  # the equivalence margin: differences within ±0.5 Spearman points are too small to matter
RESAMPLES = 1000  # enough for a stable variance; each costs one ranking per run and depth
BATCH = 200  # resamples ranked at once: bounds the memory to a few MB per seed and depth
SEED = 0  # a fixed stream, so that `sweep report` rewrites the same report.json
RANGE = 2.0  # ρ lies in [-1, 1], so a difference (or a weighted mean of differences) lies in [-2, 2]
BETTER, WORSE, EQUIVALENT, INCONCLUSIVE = "better", "worse", "equivalent", "inconclusive"
ADJUSTMENT = "Bonferroni"
PIVOT_DRAWS = 200_000  # Monte Carlo draws of the pivotal quantity: the 1 − 0.05/6 quantile from ~1,700 in its tail


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


def resampled_spearman(gold: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The mean over seeds of Spearman's ρ on each of ``RESAMPLES`` resamples of the test pairs, for
    ``scores`` (seeds, [depths,] pairs): (RESAMPLES, [depths]). The resamples come from a fixed stream, so
    every arm is scored on the same resampled pairs (the comparison is paired) and a report is rewritten
    the same; an arm's draws serve every comparison it takes part in."""
    pairs = gold.shape[-1]
    indices = np.random.default_rng(SEED).integers(0, pairs, (RESAMPLES, pairs))
    draws = []
    for start in range(0, RESAMPLES, BATCH):  # BATCH resamples at once bound the memory
        batch = indices[start : start + BATCH]
        resampled = np.moveaxis(scores[..., batch], -2, 0)  # (batch, seeds, [depths,] pairs)
        ranked_gold = stats.rankdata(gold[batch], axis=-1).reshape(len(batch), *[1] * (scores.ndim - 1), pairs)
        draws.append(_pearson_of_ranks(ranked_gold, resampled).mean(axis=1))
    return np.concatenate(draws)


def compare(
    gold: np.ndarray,
    best: np.ndarray,
    default: np.ndarray,
    tests: int = 1,
    margin: float = MARGIN,
    weights: np.ndarray | None = None,
    draws: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Best vs defaults at one depth: ``best`` and ``default`` are (seeds, pairs) cosine similarities, the
    same seeds in the same order; ``gold`` the pairs' scores; ``tests`` how many comparisons are judged
    together (the adjusted interval's Bonferroni factor). With ``weights``, ``best`` and ``default`` are
    (seeds, depths, pairs) and the difference is the weighted sum over depths (the sweep's objective).
    ``draws``: both sides' ``resampled_spearman``, where already computed. Returns the verdict dict (see
    module doc)."""
    per_seed = spearman_rows(gold, best) - spearman_rows(gold, default)
    best_draws, default_draws = (
        draws if draws is not None else (resampled_spearman(gold, best), resampled_spearman(gold, default))
    )
    pair_draws = best_draws - default_draws
    if weights is not None:
        per_seed, pair_draws = per_seed @ weights, pair_draws @ weights
    combined = combine(per_seed, pair_draws, tests)
    low, high = np.percentile(pair_draws, [100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2])
    combined["components"] |= {
        "seed_interval": _seed_interval(per_seed),
        "bootstrap_interval": [float(low), float(high)],
        "per_seed_delta": [float(d) for d in per_seed],
    }
    says = outcome(combined["adjusted_interval"], margin)
    method = (
        f"{len(per_seed)} seeds and a paired bootstrap over {gold.shape[-1]} STS-test pairs ({RESAMPLES} resamples), "
        f"variances summed, t with {_df_text(combined['components']['df'])} Welch–Satterthwaite df"
    )
    if len(per_seed) < 2:
        method += "; one seed: the seeds' noise is not measured, the interval holds the test pairs' only"
    if tests > 1:
        method += f"; adjusted: {ADJUSTMENT} over {tests} depths, its width from a generalized pivotal quantity"
    if weights is not None:
        method += "; the sweep's objective on STS-test, the primary comparison: not adjusted"
    return {"says": says, **combined, "method": method, "margin": margin, "text": describe(says, combined, margin)}


def combine(per_seed: np.ndarray, pair_draws: np.ndarray, tests: int = 1) -> dict[str, Any]:
    """The difference (mean of ``per_seed``) with one interval for both noises: the seeds' (the per-seed
    differences' spread) and the test pairs' (``pair_draws``: the mean difference on resampled pairs)."""
    per_seed = np.asarray(per_seed, dtype=float)
    n = len(per_seed)
    delta = float(per_seed.mean())
    seed_var = float(per_seed.var(ddof=1) / n) if n > 1 else 0.0
    draws = np.asarray(pair_draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    pair_var = float(draws.var(ddof=1)) if len(draws) > 1 else 0.0
    total = seed_var + pair_var
    # Satterthwaite: only the seed part is estimated from few values; the bootstrap's has many.
    df = total**2 / (seed_var**2 / (n - 1)) if seed_var > 0 else math.inf
    return {
        "delta": delta,
        "interval": _interval(delta, total, df, CONFIDENCE),
        "adjusted_interval": (
            _interval(delta, total, df, CONFIDENCE)
            if tests == 1
            else _pivotal_interval(delta, seed_var, pair_var, n, 1 - (1 - CONFIDENCE) / tests)
        ),
        "components": {"seed_variance": seed_var, "pair_variance": pair_var, "df": None if math.isinf(df) else df},
    }


def _interval(delta: float, variance: float, df: float, confidence: float) -> list[float]:
    if variance == 0:
        return [delta, delta]  # the same runs on both sides, say: nothing varies
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(variance)
    return _feasible(delta, half)


def _feasible(delta: float, half: float) -> list[float]:
    """delta ± half, within what a difference of two correlations can be: with two or three seeds the
    seeds' few degrees of freedom give half-widths beyond it, which say nothing more than the range does."""
    return [max(delta - half, -RANGE), min(delta + half, RANGE)]


def _pivotal_interval(delta: float, seed_var: float, pair_var: float, n: int, confidence: float) -> list[float]:
    """``delta`` ± the ``confidence`` quantile of |Z| · sqrt(seed_var · k / U + pair_var), U ~ χ²(k), k = n − 1:
    the generalized pivotal quantity of a mean whose variance has a part estimated from n seeds."""
    total = seed_var + pair_var
    if total == 0:
        return [delta, delta]
    if seed_var == 0 or n < 2:  # nothing estimated from few values: the normal quantile
        half = float(stats.norm.ppf(0.5 + confidence / 2)) * math.sqrt(total)
        return _feasible(delta, half)
    normal, chi2 = _pivot_draws(n - 1)
    spread = np.abs(normal) * np.sqrt(seed_var * (n - 1) / chi2 + pair_var)
    half = float(np.quantile(spread, confidence))
    return _feasible(delta, half)


@functools.lru_cache(maxsize=8)
def _pivot_draws(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal and χ²(k) draws from a fixed stream, so that `sweep report` rewrites the same report."""
    rng = np.random.default_rng(SEED)
    return stats.norm.rvs(size=PIVOT_DRAWS, random_state=rng), stats.chi2.rvs(k, size=PIVOT_DRAWS, random_state=rng)


def outcome(interval: list[float], margin: float = MARGIN) -> str:
    """better / worse when the interval excludes zero; equivalent when it lies within ± ``margin``."""
    low, high = interval
    if low > 0:
        return BETTER
    if high < 0:
        return WORSE
    return EQUIVALENT if -margin <= low and high <= margin else INCONCLUSIVE


def _df_text(df: float | None) -> str:
    return "many" if df is None else f"{df:.1f}"


def _seed_interval(per_seed: np.ndarray) -> list[float] | None:
    """Student-t interval of the mean per-seed difference (test pairs held fixed); None for one seed."""
    if len(per_seed) < 2:
        return None
    if np.ptp(per_seed) == 0:
        return [float(per_seed[0])] * 2  # every seed gave the same difference (the same runs, say)
    low, high = stats.ttest_1samp(per_seed, 0.0).confidence_interval(CONFIDENCE)
    return [float(low), float(high)]


def describe(says: str, verdict: dict[str, Any], margin: float = MARGIN) -> str:
    """``better by 2.31 (95% interval +1.10..+3.52, adjusted +0.80..+3.82)``, in Spearman ×100 points as
    report.md shows them; the verdict is the adjusted interval's."""
    delta = 100 * verdict["delta"]
    span = "95% interval {:+.2f}..{:+.2f}".format(*(100 * x for x in verdict["interval"]))
    if verdict["adjusted_interval"] != verdict["interval"]:
        span += ", adjusted {:+.2f}..{:+.2f}".format(*(100 * x for x in verdict["adjusted_interval"]))
    if says in (BETTER, WORSE):
        return f"{says} by {abs(delta):.2f} ({span})"
    if says == EQUIVALENT:
        return f"equivalent within ±{100 * margin:.2f} ({delta:+.2f}, {span})"
    return f"inconclusive ({delta:+.2f}, {span}; neither a difference nor equivalence within ±{100 * margin:.2f})"


def verdicts(
    gold: np.ndarray,
    best: np.ndarray,
    default: np.ndarray,
    weights: list[float] | None = None,
    margin: float = MARGIN,
    draws: tuple[np.ndarray, np.ndarray] | None = None,
    full_depth_margin: float | None = None,
) -> dict[str, Any]:
    """``{"objective": ..., "full": ..., "per_depth": [...], "margin": ...}`` from (seeds, depths, pairs)
    similarity arrays. The objective (``weights`` on depths 1..L; full depth by default) is the primary
    comparison, judged on its own 95% interval; each depth is judged as one of the L together. Full depth is
    the last depth (the model with every layer). ``draws``: both sides' ``resampled_spearman``, if known.
    ``full_depth_margin`` (the sweep's constraint) adds a non-inferiority judgement to full depth."""
    depths = best.shape[1]
    best_draws, default_draws = (
        draws if draws is not None else (resampled_spearman(gold, best), resampled_spearman(gold, default))
    )
    per_depth = [
        {
            "depth": d + 1,
            **compare(
                gold,
                best[:, d],
                default[:, d],
                tests=depths,
                margin=margin,
                draws=(best_draws[:, d], default_draws[:, d]),
            ),
        }
        for d in range(depths)
    ]
    weighted = np.asarray(weights if weights is not None else [0.0] * (depths - 1) + [1.0])
    objective = compare(gold, best, default, margin=margin, weights=weighted, draws=(best_draws, default_draws))
    if full_depth_margin is not None:
        per_depth[-1]["non_inferiority"] = non_inferiority(per_depth[-1], full_depth_margin)
        per_depth[-1]["text"] += "; " + per_depth[-1]["non_inferiority"]["text"]
    return {"objective": objective, "full": per_depth[-1], "per_depth": per_depth, "margin": margin}


def non_inferiority(verdict: dict[str, Any], margin: float) -> dict[str, Any]:
    """Under ``objective.full_depth_margin``: whether the difference is shown to be no worse than ``-margin``,
    read off the lower end of the (adjusted) interval."""
    low = verdict["adjusted_interval"][0]
    holds = bool(low > -margin)
    limit = f"{100 * margin:.2f}"
    text = (
        f"not worse by more than {limit} (lower end {100 * low:+.2f})"
        if holds
        else f"may be worse by more than {limit} (lower end {100 * low:+.2f})"
    )
    return {"margin": margin, "holds": holds, "text": text}
