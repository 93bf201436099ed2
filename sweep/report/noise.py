"""Noise told apart from signal: how far one training run's objective moves from seed to seed, whether the
sweep's winner leads the runner-up by more than that, and whether the trials stopped while still rising.

A sweep trains each config once, with one seed, so the gap between two trials is the gap between two single
runs. The retrain trains the winner and the reference defaults with several seeds each, which measures that
noise: the standard deviation over seeds of each arm's objective on STS-dev (at the evaluation the
selection rule chose, as the sweep ranks trials), pooled over the two arms. The difference of two single
runs of one config has a standard deviation of sqrt(2) times that, so a lead smaller than it is a tie
within seed noise: another seed could reverse it.

A completed trial whose objective still rose by more than ``RISING`` between its last two evaluations had
not flattened: a longer budget could reorder the trials. The report flags the search when more than
``RISING_SHARE`` of its completed trials did.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pandas as pd

from sweep.config.objective import ObjectiveConfig

RISING = 0.002  # Spearman units: 0.2 points between the last two evaluations
RISING_SHARE = 0.2  # more than this share of completed trials still rising flags the search


def seed_spread(retrained: dict[str, Any], objective: ObjectiveConfig) -> dict[str, Any]:
    """The seed-to-seed standard deviation of the objective on STS-dev, per arm and pooled over the winner and
    the defaults (each arm needs two seeds or more; None where neither has)."""
    metric = objective.metrics[0]
    per_arm: dict[str, float | None] = {}
    for arm, key in (("best", "best"), ("defaults", "default")):
        values = [float(run["chosen"][metric]) for run in retrained.get(key) or [] if metric in run.get("chosen", {})]
        per_arm[arm] = statistics.stdev(values) if len(values) >= 2 else None
    measured = [sd for sd in per_arm.values() if sd is not None]
    pooled = math.sqrt(sum(sd**2 for sd in measured) / len(measured)) if measured else None
    return {"metric": metric, "per_arm": per_arm, "pooled": pooled}


def lead(standings: pd.DataFrame, objective: ObjectiveConfig, pooled: float | None) -> dict[str, Any] | None:
    """The winner's lead over the runner-up on the objective (the runner-up among the feasible trials when the
    winner is feasible), and whether it is a tie within seed noise; None with fewer than two trials."""
    metric = objective.metrics[0]
    if len(standings) and "feasible" in standings:  # the winner's own kind: feasible ranks before infeasible
        standings = standings[standings["feasible"] == standings["feasible"].iloc[0]]
    if len(standings) < 2:
        return None
    first, second = standings.iloc[0], standings.iloc[1]
    gap = float(first[metric]) - float(second[metric])
    noise = None if pooled is None else math.sqrt(2) * pooled
    return {
        "winner": str(first["trial_id"]),
        "runner_up": str(second["trial_id"]),
        "lead": gap,
        "noise": noise,  # the standard deviation of the difference of two single runs of one config
        "tie": None if noise is None else bool(gap < noise),
    }


def still_rising(standings: pd.DataFrame, reports: pd.DataFrame, objective: ObjectiveConfig) -> dict[str, Any]:
    """Of the completed trials that trained their whole budget, those whose objective rose by more than
    ``RISING`` between their last two evaluations."""
    metric = objective.metrics[0]
    full = standings[standings["steps"] >= standings["total_steps"]] if "total_steps" in standings else standings
    rising = []
    for trial_id in full["trial_id"]:
        history = reports[reports["trial_id"] == trial_id].sort_values("step")[metric].dropna()
        if len(history) >= 2 and float(history.iloc[-1] - history.iloc[-2]) > RISING:
            rising.append(str(trial_id))
    share = len(rising) / len(full) if len(full) else 0.0
    return {
        "threshold": RISING,
        "trials": rising,
        "of": len(full),
        "share": share,
        "flag": bool(share > RISING_SHARE),
    }


def noise_summary(
    retrained: dict[str, Any], standings: pd.DataFrame, reports: pd.DataFrame, objective: ObjectiveConfig
) -> dict[str, Any]:
    """The report.json ``noise`` entry."""
    spread = seed_spread(retrained, objective)
    return {
        "seed_spread": spread,
        "lead": lead(standings, objective, spread["pooled"]),
        "still_rising": still_rising(standings, reports, objective),
    }


def noise_lines(noise: dict[str, Any] | None) -> list[str]:
    """report.md's sentences on the seed noise, the winner's lead and curves still rising (×100)."""
    if not noise:
        return []
    lines = []
    spread, lead_, rising = noise["seed_spread"], noise["lead"], noise["still_rising"]
    if spread["pooled"] is not None:
        lines.append(
            f"Seed noise: one run's `{spread['metric']}` moves by {100 * spread['pooled']:.2f} (standard deviation "
            "over the retrain's seeds, the winner and the defaults pooled)."
        )
    if lead_ is not None:
        said = f"The winner `{lead_['winner']}` leads `{lead_['runner_up']}` by {100 * lead_['lead']:.2f}"
        if lead_["tie"] is None:
            said += " (one retrain seed: the seed noise is not measured)."
        elif lead_["tie"]:
            said += (
                f": **a tie within seed noise** (two single runs of one config differ by {100 * lead_['noise']:.2f} "
                "typically); another seed could reverse it."
            )
        else:
            said += f", more than seed noise ({100 * lead_['noise']:.2f})."
        lines.append(said)
    if rising["trials"]:
        said = (
            f"{len(rising['trials'])} of {rising['of']} completed trials were still rising by more than "
            f"{100 * rising['threshold']:.2f} between their last two evaluations"
        )
        lines.append(
            said + (": **the budget may be too short to rank them**." if rising["flag"] else "; most had flattened.")
        )
    return [" ".join(lines), ""] if lines else []
