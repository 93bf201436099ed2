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

from typing import Any, Literal

from pydantic import Field, model_validator

from trainables.errors import InputError
from trainables.metrics import MEAN_DEPTH, MODE, OBJECTIVE, best_column, depth_metric
from trainables.schema import Strict
from trainables.selection import Selection

Score = Literal["full", "depth", "mean_depths"]
PICKABLE = ("completed",)  # the statuses a winning trial may have (see the module docstring)


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
        if self.target == "pareto":
            return ["full", "depth"]
        return [self.target]

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
