"""What the sweep optimises: full-depth STS-dev (the default), STS-dev at one depth, the mean over depths,
or two objectives at once (full depth and one shallow depth) with a Pareto front.

AdaptiveLayerLoss exists to make shallow layers usable, so quality after fewer layers can matter as
much as quality at full depth. ASHA always prunes on one metric (``prune_on``).

Which trial wins, stated once (README, "Objective"): only completed trials may be picked (a trial ASHA
stopped is told to Optuna as pruned, so it is never Optuna's best either). Each completed trial counts
as one point: its best STS-dev evaluation by the objective's ``selection`` rule, with every value from
that one evaluation. The retrain applies the same rule to its own evaluations to choose the weights it
delivers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from pydantic import Field, model_validator

from sweep.results import NoResultsError, best_column
from trainables.errors import InputError
from trainables.metrics import MEAN_DEPTH, MODE, OBJECTIVE, depth_metric
from trainables.schema import Strict
from trainables.selection import Selection

Score = Literal["full", "depth", "mean_depths"]


class ObjectiveConfig(Strict):
    """The ``objective:`` section."""

    target: Literal["full", "depth", "mean_depths", "pareto"] = "full"  # full-depth STS-dev, the model card's
    depth: int | None = Field(None, ge=1)  # the shallow depth of target depth / pareto (1..L)
    prune_on: Score | None = None  # ASHA's one metric; by default the target's (full for pareto)
    pick: Literal["balanced", "full", "depth"] = "balanced"  # pareto: the front point retrained (see `selection`)
    # Spearman units. A trial is feasible when its full-depth STS-dev, at the evaluation that ranks it, is at
    # least the reference defaults' (at theirs) minus this; only a feasible trial may win. None: no constraint.
    full_depth_margin: float | None = Field(None, ge=0, le=2, allow_inf_nan=False)

    @model_validator(mode="after")
    def _depth_when_needed(self) -> ObjectiveConfig:
        needs_depth = self.target in ("depth", "pareto") or self.prune_on == "depth"
        if needs_depth and self.depth is None:
            raise ValueError(f"objective.depth is required with target {self.target}, prune_on {self.prune_on}")
        if not needs_depth and self.depth is not None:
            raise ValueError("objective.depth is only read with target depth or pareto, or prune_on depth")
        return self

    @property
    def scores(self) -> list[Score]:
        """The one or two scores optimised."""
        return ["full", "depth"] if self.target == "pareto" else [self.target]  # type: ignore[list-item]

    @property
    def metrics(self) -> list[str]:
        """The reported metric names Optuna is told, in ``scores`` order."""
        return [metric_name(score, self.depth) for score in self.scores]

    @property
    def columns(self) -> list[str]:
        """The trials-frame columns (best at any report) that rank trials, in ``scores`` order."""
        return [best_column(metric) for metric in self.metrics]

    @property
    def selection(self) -> Selection:
        """How one run's evaluations are ranked: by the metric, or for two objectives by ``pick``'s rule
        (``balanced``: the mean of both; ``full`` / ``depth``: that one, ties broken by the other)."""
        if self.target != "pareto":
            return Selection(tuple(self.metrics))
        full, shallow = self.metrics
        if self.pick == "balanced":
            return Selection((full, shallow), average=True)
        return Selection((full, shallow) if self.pick == "full" else (shallow, full))

    @property
    def prune_metric(self) -> str:
        """The metric ASHA judges trials on."""
        return metric_name(self.prune_on or self.scores[0], self.depth)

    @property
    def labels(self) -> list[str]:
        """For people, in ``scores`` order: ``STS-dev spearman_cosine at 2 layers`` and the like."""
        return [_describe(score, self.depth) for score in self.scores]

    def describe(self) -> str:
        return " and ".join(self.labels)

    def depth_weights(self, n_layers: int) -> list[float]:
        """The objective as weights on spearman_cosine at depths 1..L, so that STS-test can be judged on it:
        one depth, the mean of all, or for two objectives what ``pick`` ranks a run's evaluations by."""
        if self.target == "mean_depths":
            return [1 / n_layers] * n_layers
        full, shallow = n_layers, int(self.depth or n_layers)
        if self.target == "pareto":
            chosen = {"balanced": [full, shallow], "full": [full], "depth": [shallow]}[self.pick]
        else:
            chosen = [full] if self.target == "full" else [shallow]
        weights = [0.0] * n_layers
        for depth in chosen:
            weights[depth - 1] += 1 / len(chosen)
        return weights

    def describe_on_test(self) -> str:
        """``STS-test spearman_cosine at full depth`` and the like: the objective, judged on STS-test."""
        labels = [label.replace("STS-dev", "STS-test") for label in self.labels]
        if self.target != "pareto":
            return labels[0]
        return {"balanced": f"the mean of {labels[0]} and {labels[1]}", "full": labels[0]}.get(self.pick, labels[1])


def metric_name(score: Score, depth: int | None) -> str:
    """The reported metric behind a score."""
    return {"full": OBJECTIVE, "mean_depths": MEAN_DEPTH}.get(score) or depth_metric(int(depth or 0))


def _describe(score: Score, depth: int | None) -> str:
    if score == "full":
        return "STS-dev spearman_cosine at full depth"
    if score == "mean_depths":
        return "STS-dev spearman_cosine averaged over depths 1..L"
    return f"STS-dev spearman_cosine at {depth} layer{'s' if depth != 1 else ''}"


def check_objective_depth(objective: ObjectiveConfig, n_layers: int) -> None:
    """Refuse a depth the model does not have."""
    if objective.depth is not None and objective.depth > n_layers:
        raise InputError(f"objective.depth: {objective.depth} exceeds the model's {n_layers} layers; use 1..{n_layers}")


def search_metric(objective: ObjectiveConfig) -> tuple[str | list[str], str | list[str]]:
    """(metric, mode) for Optuna: one name, or lists for the two-objective case."""
    if objective.target == "pareto":
        return objective.metrics, [MODE] * len(objective.metrics)
    return objective.metrics[0], MODE


PICKABLE = ("completed",)  # the statuses a winning trial may have (see the module docstring)
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


def summary(objective: ObjectiveConfig) -> dict[str, Any]:
    """The report.json ``objective`` entry."""
    return {
        "target": objective.target,
        "metric": objective.metrics[0],
        "metrics": objective.metrics,
        "mode": MODE,
        "depth": objective.depth,
        "prune_on": objective.prune_metric,
        "description": objective.describe(),
        "pickable": list(PICKABLE),
        "selection": describe_selection(objective),
        "full_depth_margin": objective.full_depth_margin,
    }


def describe_selection(objective: ObjectiveConfig) -> str:
    """The selection rule in words, for report.json and report.md."""
    if objective.target != "pareto":
        rule = f"its evaluation with the highest `{objective.metrics[0]}`"
    elif objective.pick == "balanced":
        rule = "its evaluation with the highest mean of the two objectives"
    else:
        first, second = objective.selection.metrics
        rule = f"its evaluation with the highest `{first}` (ties: `{second}`)"
    return (
        f"each completed trial counts by {rule}, all values from that one evaluation; "
        "the retrain keeps the weights of its own evaluation chosen the same way"
    )
