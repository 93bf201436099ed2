"""report.json as ``sweep.report.summary.build_report`` writes it: one model per section, each field in the
order the file has it, so that ``Report.model_dump(mode="json")`` is the file. Every key is always there; a
key that needs a winner is null where no trial was feasible, never absent.

Sections built by other modules from their own names (the objective's summary, the noise, the verdicts, the
leaderboard with its objective's metrics) stay plain mappings here: those modules name their keys.

Reading report.json back is ``sweep.store.records.ReportRecord``'s: a report written by an older version
lacks most of these keys and still reads, while this model refuses a report without every one of them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer, model_validator


class Section(BaseModel):
    """Part of report.json, built in memory only: a key out of place or a value of the wrong type is a bug
    here, never a damaged file, so it is refused (strict: no string taken for a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Recipe(Section):
    """What every trial shares: the loss, the data and the fixed training settings."""

    loss: str
    data: dict[str, Any]
    train: dict[str, Any]


class SearchedParam(Section):
    """One parameter: the searched domain (None when fixed), its reference default, the best value (None
    without a winner) and what it does."""

    param: str
    searched: str | None
    default: Any
    best: Any
    role: str


class TrialCounts(Section):
    """The sweep's trials by status (``sweep.store.frames.STATUSES``), and their seconds."""

    total: int
    completed: int
    pruned: int
    errored: int
    unfinished: int
    time_s: float


class BestTrial(Section):
    """The winner: its config, best STS-dev, the step of its winning evaluation and that evaluation's
    objective values."""

    trial_id: str
    config: dict[str, Any]
    sts_dev_spearman: float
    step: int
    objective: dict[str, float]
    status: str


class NoFeasible(Section):
    """Why nothing is delivered: the line the run said, its reason, how many trials completed, and then the
    constraint's figures as ``sweep.store.ranking`` names them (they follow these keys in the file)."""

    model_config = ConfigDict(extra="allow")

    text: str
    reason: str
    completed: int


class SeedSummary(Section):
    """One seed's run of an arm: the model card's metric set (``metrics``, written flat after ``seed``, as the
    card's metrics sit beside a run's other figures), the step it delivered and the end of its budget."""

    seed: int
    metrics: dict[str, float]
    per_layer: list[float]
    chosen_step: int
    steps: int
    final: float
    final_per_layer: list[float]
    sts_dev_chosen: float
    sts_dev_final: float
    objective_chosen: dict[str, float]  # the STS-dev scores the step was chosen by

    @model_validator(mode="before")
    @classmethod
    def _nested(cls, data: Any) -> Any:
        """A seed as report.json holds it, flat: the keys that are no field of this model are its metrics."""
        if isinstance(data, dict) and "metrics" not in data:
            own = {key: value for key, value in data.items() if key in cls.model_fields}
            return {**own, "metrics": {key: value for key, value in data.items() if key not in own}}
        return data

    @model_serializer(mode="wrap")
    def _flat(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        return {"seed": data.pop("seed"), **data.pop("metrics"), **data}


class RunSummary(Section):
    """An arm's STS-test figures over its seeds, of the delivered weights: mean and spread (None with one
    seed, never 0) of the metric set and per depth, each seed, and the same runs at the end of their budget."""

    spearman_cosine: float
    mean: dict[str, float]
    std: dict[str, float | None]
    per_seed: list[SeedSummary]
    per_layer: list[float]
    per_layer_std: list[float | None]
    final_spearman_cosine: float
    final_per_layer: list[float]


class Delivered(Section):
    """The delivered model's own figures: the first seed's run of the winner, whose weights best_model holds
    (``sts_dev`` None in a retrain written before it was measured)."""

    seed: int
    chosen_step: int
    sts_dev: dict[str, float] | None
    test: dict[str, float]


class DefaultArm(Section):
    """The reference defaults retrained the same way (``test`` None where ``retrain.arms`` leaves them out)."""

    config: dict[str, Any]
    test: RunSummary | None


class UntrainedScores(Section):
    """The base model on one split, in the shape of a retrained arm's means."""

    spearman_cosine: float
    mean: dict[str, float]
    per_layer: list[float]


class UntrainedSummary(Section):
    sts_dev: UntrainedScores
    test: UntrainedScores


class ArmSummary(Section):
    """One arm of the retrain: its config (None for the untrained model), whose runs it is, why where not
    its own, and its STS-test figures."""

    config: dict[str, Any] | None
    runs_of: str
    note: str | None = None  # a retrain written before the arms were noted has none
    test: RunSummary | UntrainedScores


class Attribution(Section):
    """One difference between two arms, judged on the objective, at full depth and per depth (the verdicts
    of ``sweep.report.verdict``)."""

    arms: list[str]  # [minuend, subtrahend]
    objective: dict[str, Any]
    full: dict[str, Any]
    per_depth: list[dict[str, Any]]


class Verdict(Section):
    """``attribution.total`` where it has always been: best against the reference defaults."""

    objective: dict[str, Any]
    full: dict[str, Any]
    per_depth: list[dict[str, Any]]
    margin: float


class Seeds(Section):
    sweep: list[int]
    retrain: list[int]
    seen_by_sweep: list[int]  # retrain seeds a trial also trained with


class Plot(Section):
    file: str
    title: str


class Report(Section):
    """report.json (the README's table names every key)."""

    name: str
    objective: dict[str, Any]
    model: str
    n_layers: int
    depths: list[int]  # the rows of every per_layer list: layers used
    recipe: Recipe
    scheduler: dict[str, Any]
    search_space: list[SearchedParam]
    trials: TrialCounts
    best: BestTrial | None
    no_feasible: NoFeasible | None
    leaderboard: list[dict[str, Any]]
    constraint: dict[str, Any] | None
    noise: dict[str, Any]
    pareto: dict[str, Any] | None
    importance: list[dict[str, Any]]
    boundary_warnings: list[dict[str, Any]]
    test: RunSummary | None
    delivered: Delivered | None
    default: DefaultArm
    default_is_best: bool | None
    untrained: UntrainedSummary
    arms: dict[str, ArmSummary]
    attribution: dict[str, Attribution | None]
    attribution_order: list[str]
    verdict: Verdict | None
    retrain_data: str | None
    retrain_cost: str | None
    seeds: Seeds
    model_path: str | None
    command: str
    plots: list[Plot]
