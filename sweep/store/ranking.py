"""Which trial wins: each completed trial as one point (its best STS-dev evaluation by the objective's
selection rule), ranked, or as a Pareto front, under ``objective.full_depth_margin`` where one is set.

The rule is stated once, in ``sweep.config.objective`` and the README's "Objective"; this module applies it to
the frames of a sweep.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sweep.config.objective import PICKABLE, ObjectiveConfig
from sweep.store.frames import NoResultsError
from trainables.metrics import OBJECTIVE

CHOSEN_STEP = "chosen_step"  # points' column: the step of the trial's chosen evaluation
FULL_DEPTH = "full_depth"  # points' column under a constraint: full-depth STS-dev at the chosen evaluation
FEASIBLE = "feasible"  # points' column: whether the trial meets objective.full_depth_margin (True without one)


class NoFeasibleTrialError(NoResultsError):
    """Trials completed, but none meets ``objective.full_depth_margin``: there is no config to deliver."""


@dataclass(frozen=True)
class Constraint:
    """What ``objective.full_depth_margin`` asks of a trial, measured on the reference defaults' trial."""

    margin: float
    reference_trial: str | None  # the earliest trial run at the reference defaults; None: none was run
    reference_step: int | None  # the step of its evaluation chosen by the selection rule
    reference_full_depth: float | None  # full-depth STS-dev there; None: it has no evaluation

    @property
    def threshold(self) -> float | None:
        """The full-depth STS-dev a feasible trial reaches at least; None: nothing to compare with."""
        return None if self.reference_full_depth is None else self.reference_full_depth - self.margin

    def shortfall(self, full_depth: float) -> float:
        """How far below the threshold a full-depth score is (<= 0: feasible), as Optuna's constraints
        read it; 0 while there is no threshold yet (the reference has not reported)."""
        return 0.0 if self.threshold is None else self.threshold - full_depth

    def summary(self) -> dict[str, Any]:
        """The report.json ``constraint`` entry (without the counts)."""
        return {
            "full_depth_margin": self.margin,
            "metric": OBJECTIVE,
            "reference_trial": self.reference_trial,
            "reference_step": self.reference_step,
            "reference_full_depth": self.reference_full_depth,
            "threshold": self.threshold,
        }


def reference_trial(trials: pd.DataFrame, reference: Mapping[str, Any]) -> str | None:
    """The id of the earliest trial whose parameters are all the reference defaults' (the sweep evaluates
    that point first), or None."""
    known = {key: value for key, value in reference.items() if key in trials.columns}
    ordered = trials.sort_values("trial_index", kind="stable") if "trial_index" in trials else trials
    for row in ordered.to_dict("records"):
        if is_reference(row, known):
            return str(row["trial_id"])
    return None


def is_reference(params: Mapping[str, Any], reference: Mapping[str, Any]) -> bool:
    """Whether ``params`` hold every value of ``reference`` (a non-empty set of the reference defaults)."""
    return bool(reference) and all(_same_value(params.get(key), value) for key, value in reference.items())


def _same_value(a: Any, b: Any) -> bool:
    """Equal parameter values: strings exactly, numbers to rounding (a frame's float32, JSON's digits)."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return False


def constraint(
    objective: ObjectiveConfig, trials: pd.DataFrame, reports: pd.DataFrame, reference: Mapping[str, Any]
) -> Constraint | None:
    """The constraint of ``objective.full_depth_margin`` on these trials, or None without one. The reference
    trial counts by its own evaluation chosen by the selection rule, whatever its status (ASHA may have
    stopped it): a trial is held to what the defaults reached by the same rule."""
    if objective.full_depth_margin is None:
        return None
    found = reference_trial(trials, reference)
    history = reports[reports["trial_id"].astype(str) == found].to_dict("records") if found is not None else []
    history = [row for row in history if finite(row.get(OBJECTIVE))]
    chosen = objective.selection.choose(history)
    if chosen is None:
        return Constraint(objective.full_depth_margin, found, None, None)
    row = history[chosen]
    return Constraint(objective.full_depth_margin, found, int(row["step"]), float(row[OBJECTIVE]))


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def points(
    trials: pd.DataFrame,
    reports: pd.DataFrame,
    objective: ObjectiveConfig,
    reference: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per trial that may be picked: its trials row, ``chosen_step`` (its best evaluation by
    ``objective.selection``), and that evaluation's value of each objective metric (columns named
    ``objective.metrics``). Trials whose every evaluation lacks a value are left out. Under
    ``objective.full_depth_margin`` (``reference``: the reference defaults' parameters) also ``full_depth``
    and ``feasible``; without one every point is feasible."""
    selection = objective.selection
    evaluations: dict[Any, list[dict[str, Any]]] = {}
    for row in reports.to_dict("records"):  # one conversion, not one per trial: thousands of replayed trials
        evaluations.setdefault(row["trial_id"], []).append(row)
    limit = constraint(objective, trials, reports, reference or {})
    rows = []
    for trial in trials[trials["status"].isin(PICKABLE)].to_dict("records"):
        history = evaluations.get(trial["trial_id"], [])
        chosen = selection.choose(history)
        if chosen is not None:
            row = history[chosen]
            point = {**trial, CHOSEN_STEP: int(row["step"]), **{m: float(row[m]) for m in objective.metrics}}
            full = float(row[OBJECTIVE]) if finite(row.get(OBJECTIVE)) else math.nan
            threshold = None if limit is None else limit.threshold
            feasible = limit is None or (threshold is not None and full >= threshold - 1e-12)
            rows.append({**point, FULL_DEPTH: full, FEASIBLE: feasible})
    frame = pd.DataFrame(rows, columns=[*trials.columns, CHOSEN_STEP, *objective.metrics, FULL_DEPTH, FEASIBLE])
    frame.attrs["constraint"] = limit
    return frame


def ranked(candidates: pd.DataFrame, objective: ObjectiveConfig) -> pd.DataFrame:
    """``points`` best first by the selection rule, the feasible ones before the rest (stable: of equal
    points the earlier trial first)."""
    records = candidates.to_dict("records")
    keys = [(bool(row.get(FEASIBLE, True)), objective.selection.key(row)) for row in records]
    order = sorted(range(len(keys)), key=lambda i: keys[i], reverse=True)
    return candidates.iloc[order]


def pareto_front(candidates: pd.DataFrame, objective: ObjectiveConfig) -> pd.DataFrame:
    """The ``points`` no other point beats on every objective, best full depth first."""
    values = candidates[objective.metrics].to_numpy()
    keep = [
        not any((other >= row).all() and (other > row).any() for other in values) for row in values
    ]  # a handful to a few hundred trials: the quadratic check is instant
    return candidates[keep].sort_values(objective.metrics[0], ascending=False, kind="stable")


def standings(
    trials: pd.DataFrame,
    reports: pd.DataFrame,
    objective: ObjectiveConfig,
    reference: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """``points`` ranked best first: what the winner, the leaderboard, the front and fANOVA all read. Its
    ``attrs["constraint"]`` is the ``Constraint`` (None without one)."""
    return ranked(points(trials, reports, objective, reference), objective)  # iloc keeps the frame's attrs


def select_best(
    trials: pd.DataFrame,
    reports: pd.DataFrame,
    objective: ObjectiveConfig,
    reference: Mapping[str, Any] | None = None,
) -> pd.Series:
    """The trial to retrain, as a ``points`` row: the best feasible point by the selection rule. With two
    objectives that point is always on the Pareto front (a point that beats it on both would rank above it)."""
    ranking = standings(trials, reports, objective, reference)
    if ranking.empty:
        raise NoResultsError("no trial completed with an STS-dev score; see the status and error of each trial")
    if none_feasible(ranking):
        raise NoFeasibleTrialError(infeasible_line(ranking.attrs["constraint"], len(ranking)))
    return ranking.iloc[0]


def none_feasible(ranking: pd.DataFrame) -> bool:
    """Whether ``standings`` has completed trials but no winner: feasible ones rank first, so the first is not."""
    return not ranking.empty and not bool(ranking.iloc[0][FEASIBLE])


def infeasible_reason(limit: Constraint) -> str:
    """Why no completed trial is feasible, in words: ``none reached full-depth STS-dev 0.8400 (…)``."""
    if limit.threshold is None:
        return (
            "the reference defaults' trial has no full-depth STS-dev to compare with"
            if limit.reference_trial is not None
            else "no trial ran at the reference defaults, which the margin is measured from"
        )
    return (
        f"none reached full-depth STS-dev {limit.threshold:.4f} (the reference defaults' "
        f"{limit.reference_full_depth:.4f} minus objective.full_depth_margin {limit.margin:g})"
    )


def infeasible_line(limit: Constraint, completed: int) -> str:
    """What a sweep with no feasible trial says, in one line."""
    return (
        f"no feasible trial: of {completed} completed, {infeasible_reason(limit)}; no config to deliver "
        "(`sweep simulate DIR --set objective.full_depth_margin=...` says what a looser margin would pick)"
    )
