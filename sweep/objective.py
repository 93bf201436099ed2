"""What the sweep optimises: full-depth STS-dev (the default), STS-dev at one depth, the mean over depths,
or two objectives at once (full depth and one shallow depth) with a Pareto front.

AdaptiveLayerLoss exists to make shallow layers usable, so quality after fewer layers can matter as
much as quality at full depth. ASHA always prunes on one metric (``prune_on``).
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import Field, model_validator

from sweep.results import NoResultsError, best_column
from trainables.errors import InputError
from trainables.metrics import MEAN_DEPTH, MODE, OBJECTIVE, depth_metric
from trainables.schema import Strict

Score = Literal["full", "depth", "mean_depths"]


class ObjectiveConfig(Strict):
    """The ``objective:`` section."""

    target: Literal["full", "depth", "mean_depths", "pareto"] = "full"  # full-depth STS-dev, the model card's
    depth: int | None = Field(None, ge=1)  # the shallow depth of target depth / pareto (1..L)
    prune_on: Score | None = None  # ASHA's one metric; by default the target's (full for pareto)
    pick: Literal["balanced", "full", "depth"] = "balanced"  # pareto: the front point retrained (see pick_point)

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
    def prune_metric(self) -> str:
        """The metric ASHA judges trials on."""
        return metric_name(self.prune_on or self.scores[0], self.depth)

    @property
    def labels(self) -> list[str]:
        """For people, in ``scores`` order: ``STS-dev spearman_cosine at 2 layers`` and the like."""
        return [_describe(score, self.depth) for score in self.scores]

    def describe(self) -> str:
        return " and ".join(self.labels)


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


def scored(trials: pd.DataFrame, objective: ObjectiveConfig) -> pd.DataFrame:
    """Trials that can be ranked: not errored, with a value for every objective."""
    return trials[(trials["status"] != "errored") & trials[objective.columns].notna().all(axis=1)]


def pareto_front(trials: pd.DataFrame, objective: ObjectiveConfig) -> pd.DataFrame:
    """Trials no other trial beats on every objective (each trial's best value at any report), best full first."""
    candidates = scored(trials, objective)
    values = candidates[objective.columns].to_numpy()
    keep = [
        not any((other >= row).all() and (other > row).any() for other in values) for row in values
    ]  # a handful to a few hundred trials: the quadratic check is instant
    return candidates[keep].sort_values(objective.columns[0], ascending=False)


def pick_point(front: pd.DataFrame, objective: ObjectiveConfig) -> pd.Series:
    """The front point to retrain: ``balanced`` the best mean of both objectives, ``full`` or ``depth`` the best
    on that one objective."""
    full, shallow = objective.columns
    if objective.pick == "full":
        return front.loc[front[full].idxmax()]
    if objective.pick == "depth":
        return front.loc[front[shallow].idxmax()]
    return front.loc[front[[full, shallow]].mean(axis=1).idxmax()]


def select_best(trials: pd.DataFrame, objective: ObjectiveConfig) -> pd.Series:
    """The trial to retrain: the best on the objective at any report, or the chosen Pareto point."""
    candidates = scored(trials, objective)
    if candidates.empty:
        raise NoResultsError("no trial reported an STS-dev score; see the error column of trials.parquet")
    if objective.target == "pareto":
        return pick_point(pareto_front(candidates, objective), objective)
    return candidates.loc[candidates[objective.columns[0]].idxmax()]


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
    }
