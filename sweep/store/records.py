"""The shape of every file of an experiment folder that the code reads, one schema per file.

A folder may be damaged (a full disk, a hand edit, a copy cut short) or written by something else: a file
that parses but does not fit its schema is refused with one line naming the file, what is wrong and the
command that rebuilds it, before anything is written. The schemas are strict about what the code reads
and let other keys through, since the files grow (a newer retrain.json has ``arms``, an older one not).

JSON records are pydantic models; the saved frames are checked against the column types
``sweep.store.frames`` declares for them, so that each column is declared once.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar, get_args

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sweep.config.arms import RUN_NAMES, UNTRAINED, ArmName
from sweep.config.search_space import RULES
from trainables.errors import InputError
from trainables.metrics import METRIC_NAMES, TIMING_COLUMNS
from trainables.schema import MAX_LAYERS

M = TypeVar("M", bound=BaseModel)
_JSON_KINDS = {list: "list", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}
# A name Ray gives a trial's folder or a file in it: one entry inside the folder, never a path out of it.
_ENTRY = re.compile(r"^(?!\.\.?$)[^/\\]+$")


class Record(BaseModel):
    """A JSON file of the folder: JSON gives real types, so no string is read as a number; keys the code
    does not read pass, so that a file written by a newer version still reads."""

    model_config = ConfigDict(extra="allow", strict=True)


def fit(model: type[M], data: Any, where: str, rebuild: str, at: str = "") -> M:
    """``data`` read as ``model``; InputError naming the file ``where``, the first problem (``at`` the place
    in the file ``data`` came from) and ``rebuild`` (what to do) when it does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InputError(f"{where}: damaged ({problem(error, at)}); {rebuild}") from None


def json_record(record: BaseModel) -> dict[str, Any]:
    """``record`` as its file holds it: plain JSON values, the keys in the order its model declares them,
    and only the keys it was given, so that a fact a record does not have yet (experiment.json's
    ``resumed`` before any resume, a run's ``sts_dev`` where no model was kept) is no key rather than a
    null, as the files have always had it."""
    return record.model_dump(mode="json", exclude_unset=True)


def problem(error: ValidationError, at: str = "") -> str:
    """The first thing wrong, in a few words: where in the file, and what."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in [*([at] if at else []), *first["loc"]])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        message = "missing"
    elif first["type"] in ("model_type", "dict_type"):
        message = (
            f"a JSON {_JSON_KINDS.get(type(first['input']), type(first['input']).__name__)} where an object belongs"
        )
    return f"{where}: {message}" if where else message


def entry_name(value: str | None) -> str | None:
    """A trial folder's or file's name as Ray recorded it, refused where it would lead out of the folder."""
    if value is not None and not _ENTRY.match(value):
        raise ValueError(f"{value!r} is not a name inside the experiment folder")
    return value


# experiment.json
def _times(value: Any) -> list[str]:
    """The recorded times of a run (``resumed``, ``stopped``): a damaged entry is no time, as `sweep status`
    has always read it, rather than a refused folder."""
    values = value if isinstance(value, list) else [value]
    return [item for item in values if isinstance(item, str)]


class ExperimentMeta(Record):
    """experiment.json: the run's facts, written when it starts (``sweep.workflow.commands``) and added to as
    it goes. The fields are in the order the file has them; a fact that has not happened yet (a resume, a
    stop) is no key at all, so the file is written with ``json_record``."""

    command: str  # the command line the report repeats
    created: str | None = None
    n_layers: int = Field(ge=1, le=MAX_LAYERS)  # the model's depth: the report's depths 1..L
    max_evaluations: int | None = Field(default=None, ge=1)  # what ASHA was given; a replay gives it again
    superseded: list[str] = []  # trials a resume reran under new ids
    config_digest: str | None = None
    resumed: list[str] = []
    stopped: list[str] = []

    @field_validator("created", mode="before")
    @classmethod
    def _created(cls, value: Any) -> str | None:
        return value if isinstance(value, str) else None

    @field_validator("resumed", "stopped", mode="before")
    @classmethod
    def _run_times(cls, value: Any) -> list[str]:
        return _times(value)


# retrain.json and retrain_runs/*.json
def _metric_set(value: Any) -> Any:
    """The model card's STS metric set (``METRIC_NAMES``), each a number; a value that is no object is left
    for the type check to name."""
    if isinstance(value, dict):
        for name in METRIC_NAMES:
            if name not in value:
                raise ValueError(f"no {name}")
            if isinstance(value[name], bool) or not isinstance(value[name], int | float):
                raise ValueError(f"{name} is not a number")
    return value


# A plain mapping, in the order the evaluation gave the metrics, which the report repeats.
Metrics = Annotated[dict[str, float], BeforeValidator(_metric_set)]


class Scored(Record):
    """A model scored on one split: the full model, and spearman_cosine at each depth 1..L."""

    full: Metrics
    per_depth: list[float] = Field(min_length=1)


class Untrained(Record):
    """The base model before training, scored once on STS-dev and STS-test."""

    sts_dev: Scored
    test: Scored


class SeedRun(Record):
    """One retrain run of one arm with one seed (``sweep.workflow.retrain.retrain_one``): retrain.json keeps it
    without ``cosine`` and ``params`` (see ``TrainedRun``). The fields after ``final_per_depth`` are only in
    records written since they are kept; ``sts_dev`` only in the run whose model is delivered."""

    seed: int
    chosen_step: int
    steps: int
    sts_dev_chosen: float
    sts_dev_final: float
    chosen: dict[str, float]  # the STS-dev scores the step was chosen by
    test: Metrics
    test_per_depth: list[float] = Field(min_length=1)
    final: float
    final_per_depth: list[float] = Field(min_length=1)
    cosine: list[list[float]] | None = None  # per depth, per test pair; kept apart from retrain.json
    node_id: str | None = None  # the Ray node it ran on
    started: str | None = None
    sts_dev: Metrics | None = None  # the delivered model's own STS-dev metric set, for its card
    params: dict[str, Any] | None = None  # its config; retrain.json names it once per arm
    finished: str | None = None

    def in_retrain_record(self) -> SeedRun:
        """The run as retrain.json keeps it: without the similarities (in test_similarities.parquet) and
        the config (the arm's)."""
        return SeedRun.model_validate(self.model_dump(exclude_unset=True, exclude={"cosine", "params"}))


class Arm(Record):
    """One arm of the retrain: its config (None for the untrained model) and whose runs it is."""

    config: dict[str, Any] | None
    runs_of: ArmName
    note: str | None = None


def _params(config: dict[str, Any], key: str) -> dict[str, Any]:
    missing = [name for name in RULES if name not in config]
    if missing:
        raise ValueError(f"{key} has no {missing[0]}")
    return config


class RetrainRecord(Record):
    """retrain.json: every arm's per-seed runs (None: not retrained), the untrained model and the configs
    (``sweep.workflow.retrain._assemble``). ``arms`` and ``resampled_data`` are only in records written since the
    arms exist (``cost`` since the retrain's cost is said); an older record has the best config, the defaults
    and the untrained model. ``best`` and ``best_config`` are both None where no trial was feasible: there
    was no winner to retrain."""

    best: Annotated[list[SeedRun], Field(min_length=1)] | None
    default: list[SeedRun] | None
    defaults_at_best_trainer: list[SeedRun] | None = None
    plain: list[SeedRun] | None = None
    default_is_best: bool
    untrained: Untrained
    best_config: dict[str, Any] | None
    default_config: dict[str, Any]
    arms: dict[ArmName, Arm] | None = None
    resampled_data: str | None = None
    cost: str | None = None  # what the retrain cost, in words; only in records written since it is said

    @model_validator(mode="after")
    def _consistent(self) -> RetrainRecord:
        if (self.best is None) != (self.best_config is None):  # no winner: neither; a winner: both
            raise ValueError("best and best_config: one is null, the other not")
        if self.best_config is not None:
            _params(self.best_config, "best_config")
        _params(self.default_config, "default_config")
        for name, arm in (self.arms or {}).items():
            if name != UNTRAINED and arm.runs_of != UNTRAINED and not getattr(self, RUN_NAMES[arm.runs_of]):
                raise ValueError(f"arms.{name} is the runs of {arm.runs_of}, and {RUN_NAMES[arm.runs_of]} has none")
        # Every curve has one value per depth: the report averages them depth by depth.
        depths = len(self.untrained.test.per_depth)
        for key in RUN_NAMES.values():
            for i, run in enumerate(getattr(self, key) or []):
                if len(run.test_per_depth) != depths or len(run.final_per_depth) != depths:
                    raise ValueError(f"{key}.{i}: not {depths} depths, as the untrained model's scores have")
        return self


class TrainedRun(SeedRun):
    """retrain_runs/<arm>-seed<N>.json: one finished run, with its config and every STS-test similarity
    (each field where ``SeedRun`` declares it, so the file keeps its order)."""

    cosine: list[list[float]] = Field(min_length=1)  # per depth, per test pair
    params: dict[str, Any]


class UntrainedRun(Untrained):
    """retrain_runs/untrained.json: the untrained model's scores and every STS-test similarity."""

    cosine: list[list[float]] = Field(min_length=1)

    def in_retrain_record(self) -> Untrained:
        """The scores as retrain.json keeps them, without the similarities."""
        return Untrained.model_validate(self.model_dump(exclude_unset=True, exclude={"cosine"}))


# report.json: read back by programs (the benchmarks); `sweep report` writes it from the other files.
class ReportTrials(Record):
    total: int
    completed: int
    pruned: int
    errored: int


class ReportBest(Record):
    config: dict[str, Any]
    sts_dev_spearman: float


class ReportTest(Record):
    spearman_cosine: float
    per_seed: list[dict[str, Any]] = Field(min_length=1)
    per_layer: list[float] = Field(min_length=1)


class ReportDefault(Record):
    config: dict[str, Any]
    test: ReportTest | None


class ReportNoFeasible(Record):
    text: str  # the one line the run said
    completed: int


class ReportRecord(Record):
    """report.json: the keys the README promises (``sweep.report.summary.build_report`` writes many more). Where no
    trial was feasible, ``no_feasible`` says so and nothing is delivered: ``best``, ``test`` and
    ``model_path`` are null."""

    trials: ReportTrials
    best: ReportBest | None
    test: ReportTest | None
    default: ReportDefault
    model_path: str | None
    command: str
    no_feasible: ReportNoFeasible | None = None  # only in reports written since a sweep may end without one

    @model_validator(mode="after")
    def _delivered_or_not(self) -> ReportRecord:
        delivered = [self.best is not None, self.test is not None, self.model_path is not None]
        if any(delivered) == (self.no_feasible is not None) or len(set(delivered)) > 1:
            raise ValueError("best, test and model_path are all null exactly where no_feasible says why")
        return self


# The saved frames.
SIMILARITY_DTYPES = {"run": "str", "seed": "int64", "depth": "int64", "pair": "int64", "score": "float64"}
SIMILARITY_DTYPES["cosine"] = "float64"
SIMILARITY_RUNS = (*RUN_NAMES.values(), UNTRAINED)


def check_frame(
    frame: pd.DataFrame,
    dtypes: dict[str, str],
    where: str,
    rebuild: str,
    values: dict[str, tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """``frame`` when it has every column of ``dtypes`` holding that type (a string never stands for a
    number) and the columns of ``values`` only those values; InputError naming ``where`` otherwise."""
    for column, dtype in dtypes.items():
        if column not in frame.columns:
            raise InputError(f"{where}: damaged (no column {column}); {rebuild}")
        if not _holds(frame[column], dtype):
            raise InputError(f"{where}: damaged (column {column} holds {frame[column].dtype}, not {dtype}); {rebuild}")
    for column, allowed in (values or {}).items():
        wrong = sorted(set(frame[column].dropna()) - set(allowed))
        if wrong:
            raise InputError(
                f"{where}: damaged (column {column} holds {wrong[0]!r}; allowed: {', '.join(allowed)}); {rebuild}"
            )
    return frame


def _holds(column: pd.Series, dtype: str) -> bool:
    api = pd.api.types
    if dtype == "float64":
        return api.is_numeric_dtype(column) and not api.is_bool_dtype(column)
    if dtype == "int64":
        return api.is_integer_dtype(column)
    if dtype == "bool":
        return api.is_bool_dtype(column)
    if dtype == "str":
        return all(isinstance(value, str) for value in column.dropna())
    return True  # object: any value (a failure's text, or none)


# Ray Tune's own files (read by ``sweep.store.tune_state``): Ray rebuilds none of them.
RayStatus = Literal["PENDING", "RUNNING", "PAUSED", "TERMINATED", "ERROR"]
RAY_STATUSES: tuple[RayStatus, ...] = get_args(RayStatus)
# A trial's folder or file as Ray's state names it: one name inside the experiment folder, or none.
InsideName = Annotated[str | None, AfterValidator(entry_name)]
# Report values the trials frame reads as numbers: Ray's timings, the step clock's, and every STS-dev score.
_ROW_NUMBERS = ("epoch", "loss", "learning_rate", *TIMING_COLUMNS, "time_total_s", "time_this_iter_s")
_SCORE_PREFIX = "sts_dev_"


class RayState(Record):
    """experiment_state-*.json: per trial, its state and its runtime, each a JSON text of its own."""

    trial_data: list[Annotated[list[str], Field(min_length=2, max_length=2)]]  # JSON has no tuples


class RayTrial(Record):
    """A trial's state in Ray's experiment state."""

    trial_id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")  # it names the trial's folder, trial_<id>
    status: RayStatus
    config: dict[str, Any] | None = None
    relative_logdir: InsideName = None
    experiment_tag: str | None = None


class RayRuntime(Record):
    """A trial's runtime in Ray's experiment state: how often it raised, and where the last error is."""

    num_failures: int | None = Field(default=None, ge=0)
    error_filename: InsideName = None


class ResultRow(Record):
    """One line of a trial's result.json, as ``tune.report`` gave it (Ray adds its own bookkeeping, and a
    row may hold only that). Depth metrics are checked by name, as their number is the model's depth."""

    step: int | None = None
    total_steps: int | None = None
    training_iteration: int | None = None
    completed: bool | None = None
    timestamp: int | None = None

    @model_validator(mode="after")
    def _numbers(self) -> ResultRow:
        for key, value in (self.model_extra or {}).items():
            scored = key in _ROW_NUMBERS or key.startswith(_SCORE_PREFIX)
            if scored and value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"{key} is not a number")
        return self


class Params(Record):
    """A trial's params.json: its config, an object of one value per parameter (nested ones are Ray's own)."""
