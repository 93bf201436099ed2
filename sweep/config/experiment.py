"""Experiment config: defaults, then the experiment YAML, then ``--set key=value`` overrides, validated
before anything starts."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, ValidationInfo, field_validator, model_validator

from sweep.config.arms import ARMS, BEST, UNTRAINED, ArmName
from sweep.config.objective import ObjectiveConfig
from sweep.config.search_space import Param, parse_space, reference_point
from sweep.config.study import check_storage
from sweep.config.study import resolved as resolved_storage
from sweep.config.tracking import TrackingConfig
from sweep.config.yaml12 import YamlError, dump, load
from trainables.data import DataConfig
from trainables.errors import InputError
from trainables.model import ModelConfig
from trainables.schema import MAX_INT64, MAX_SEED, Strict
from trainables.train_config import TrainConfig

MODEL_SOURCES = ("name", "package", "tiny")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class SearchConfig(Strict):
    """How configs are proposed: Optuna's TPE sampler, seeded."""

    algorithm: Literal["optuna"] = "optuna"
    num_samples: int = Field(20, ge=1, le=100_000)  # trials in the sweep, the reference defaults included
    max_concurrent: int = Field(1, ge=1, le=100_000)  # trials running at once; TPE learns more from fewer at a time
    seed: int = Field(0, ge=0, le=MAX_SEED)  # sampler seed: the same file proposes the same configs
    n_startup_trials: int = Field(4, ge=1, le=100_000)  # random proposals before TPE takes over
    # Where the Optuna study is kept (see sweep.tuning.study): a journal file path or a database URL
    # (sqlite:///…, postgresql://…, no password in it). Null: optuna.journal in the experiment folder, so
    # the study lives beside the sweep; a folder behind a URI keeps it in memory instead.
    storage: str | None = None
    # The study's name in that storage. Null: the experiment folder's name, unique per run (written to
    # config.yaml once the folder exists, so a resume finds the study again).
    study_name: str | None = Field(None, pattern=NAME_PATTERN, max_length=512)

    @field_validator("storage")
    @classmethod
    def _storable(cls, storage: str | None) -> str | None:
        return None if storage is None else check_storage(storage)

    def resolved(self) -> SearchConfig:
        """With a relative journal or SQLite path made absolute (relative to the working directory)."""
        return self.model_copy(update={"storage": resolved_storage(self.storage)})


SCHEDULERS = ("asha", "hyperband", "median", "pasha", "none")
# The keys only some schedulers read: given with another type they would do nothing, so they are refused.
ONLY_FOR = {"brackets": "hyperband", "min_samples_required": "median"}


class SchedulerConfig(Strict):
    """Early stopping of trials, in units of STS-dev evaluations (one report per evaluation). ``type``:
    ``asha`` stops the weak ones at rungs; ``hyperband`` is ASHA over several brackets of grace periods;
    ``median`` stops a trial whose best is below the median of the others' running means; ``pasha`` is
    ASHA whose top rung grows only while the ranking of the two top rungs changes (``sweep.tuning.pasha``); ``none``
    runs every trial its budget. ``patience`` lets a trial end itself once it stops improving."""

    # PASHA with grace period 1 and reduction factor 3 by default: of every setting replayed on the three
    # recordings (benchmark 12, benchmarks/RESULTS.md), the cheapest that picked the best curve or one within
    # seed noise in at least 95% of bootstrapped draws (it did in all 360); on the cut CPU recipe it used 42%
    # of the compute of ASHA as that sweep ran it (grace 3, rf 3), 79% averaged over the three recordings.
    # The real sweep of that recipe under it (tests/data/simulate_minilm_cut_cpu_pasha) picked the ASHA
    # sweep's winner in 28 minutes instead of 67.
    type: Literal["asha", "hyperband", "median", "pasha", "none"] = "pasha"
    grace_period: int = Field(1, ge=1, le=MAX_INT64)  # evaluations a trial gets before it can be stopped
    # keep the best 1/reduction_factor at each rung (asha, hyperband, pasha)
    reduction_factor: float = Field(3.0, gt=1, allow_inf_nan=False)
    # hyperband: brackets of grace periods grace_period × reduction_factor**k, k < brackets (null: 3)
    brackets: int | None = Field(None, ge=1, le=100)
    # median: the other trials' running means needed before a trial can be stopped (null: 3)
    min_samples_required: int | None = Field(None, ge=1, le=100_000)
    # A trial ends after this many evaluations in a row without a new best (on objective.prune_on), and
    # counts as completed: trials are ranked by their best report, which such a trial already made, so
    # the steps after a peak can only change its rank if the curve turns up again. Off (null) by default
    # since 2026-12-06: with STS-dev every 20 steps (the cut CPU recipe's recording) curves dip and rise,
    # and patience 1 cost the winner: benchmark 12 found the best curve or one within seed noise in 72%
    # of draws with PASHA and 22% with ASHA (rf 3, grace 1) against 100% without it. On the sparser
    # recordings (smoke, minilm_cpu, the peer benchmark's) 1 had kept the winner and cut 1.6% to 24%.
    # Independent of `type`: a sweep without any early stopping sets `type: none` and `patience: null`.
    patience: int | None = Field(None, ge=1, le=MAX_INT64)

    @field_validator("brackets", "min_samples_required")
    @classmethod
    def _read_by_its_type(cls, value: int | None, info: ValidationInfo) -> int | None:
        owner, given = ONLY_FOR[str(info.field_name)], info.data.get("type")
        if value is not None and given != owner:
            raise ValueError(f"read by type {owner} only (type is {given}); set it to null")
        return value

    @property
    def bracket_count(self) -> int:
        return self.brackets if self.brackets is not None else 3

    @property
    def median_samples(self) -> int:
        return self.min_samples_required if self.min_samples_required is not None else 3


# Ray's own rules for a request (ray._common.ray_option_utils, ray._raylet): an amount is kept in units of
# 0.0001, so a smaller one is refused; a GPU is a unit resource, so more than one must be whole.
RAY_RESOURCE_UNIT = 0.0001
# torch takes a trial's CPUs as its thread count, a C int; GPUs get the same cap, far above any cluster.
MAX_RESOURCE = 2**31 - 1


class ResourcesConfig(Strict):
    """What one trial (and one retrain) is given, as Ray schedules it."""

    cpu: float = Field(1.0, ge=RAY_RESOURCE_UNIT, le=MAX_RESOURCE)  # also the trial's torch threads (at least 1)
    gpu: float = Field(0.0, ge=0, le=MAX_RESOURCE)  # fractions below 1 pack several trials on one GPU

    @field_validator("gpu")
    @classmethod
    def _ray_gpus(cls, value: float) -> float:
        if value > 1 and not float(value).is_integer():
            raise ValueError("a fraction of a GPU must be below 1, more than one must be whole")
        if 0 < value < RAY_RESOURCE_UNIT:
            raise ValueError(f"Ray counts GPUs in steps of {RAY_RESOURCE_UNIT}; give 0 or at least that")
        return value

    @property
    def threads(self) -> int:
        return max(1, int(self.cpu))


class ClusterConfig(Strict):
    """What the sweep does on a Ray cluster that has too few CPUs or GPUs for its trials right now."""

    # true: the cluster grows on demand (Ray's autoscaler, KubeRay): ask it for the trials' resources and
    # wait for them. false: refuse at once. Not detected: every Ray head runs an autoscaler process,
    # also where no node can ever join.
    autoscale: bool = False
    # How long to wait for the nodes to join before refusing: cloud GPU nodes take minutes to start.
    scale_up_timeout_s: float = Field(900.0, gt=0, le=7 * 24 * 3600, allow_inf_nan=False)


class FailuresConfig(Strict):
    """What happens when a trial raises (out of memory, a bad batch, a lost worker or node)."""

    # Restarts from step 1 before the trial counts as errored; the sweep goes on either way. A trial
    # whose loss turns NaN is not retried: it would fail the same way.
    max_retries: int = Field(2, ge=0, le=100)
    # A running trial that reports nothing for this long (a hung or stopped worker) is ended as errored,
    # without a retry, so the sweep goes on (sweep.monitor.stall). An hour is many times the longest stretch
    # between two reports of any recipe here (a model's load and one evaluation interval: minutes), so it
    # never ends a healthy trial, yet a hang frees its slot within the hour; null: wait forever.
    trial_timeout_s: float | None = Field(3600.0, gt=0, allow_inf_nan=False)


DEFAULT_RETRAIN_SEEDS = 5  # the seeds part of the verdict's interval then has 4 degrees of freedom, not 2


class RetrainConfig(Strict):
    """The full-budget retrain of the best config and the arms it is compared with (see sweep.config.arms)."""

    # The first one's model is kept. By default the 5 seeds after train.seed: seeds no trial trained with,
    # so a winner's lead that came from its lucky seed does not carry into the comparison.
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] | None = Field(None, min_length=1)
    # Which arms to train with those seeds; all of them by default. `best` is the delivered model; the
    # untrained model is always scored (one evaluation, no training), named or not.
    arms: list[ArmName] = Field(default_factory=lambda: list(ARMS), min_length=1)
    defaults: bool = True  # the older spelling: false is `arms: [best, untrained]`
    # Where data.train has a limit, each seed trains on its own random subset of that size (every arm
    # of a seed on the same one), so that the comparison samples the training data's variance too.
    resample_data: bool = True

    @model_validator(mode="before")
    @classmethod
    def _resolve_arms(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        if raw.get("arms") is None:
            return {**raw, "arms": list(ARMS) if raw.get("defaults", True) is not False else [BEST, UNTRAINED]}
        # A saved config.yaml holds both, the arms as `defaults: false` resolved them: that agrees.
        if raw.get("defaults") is False and raw["arms"] != [BEST, UNTRAINED]:
            raise ValueError("give retrain.arms or retrain.defaults: false, not both")
        if isinstance(raw["arms"], list) and UNTRAINED not in raw["arms"]:
            return {**raw, "arms": [*raw["arms"], UNTRAINED]}
        return raw

    @field_validator("arms")
    @classmethod
    def _arms(cls, arms: list[ArmName]) -> list[ArmName]:
        if len(set(arms)) != len(arms):
            raise ValueError(f"arms repeat: {arms}")
        if BEST not in arms:
            raise ValueError(f"arms must hold {BEST}: it is the delivered model")
        return arms

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int] | None) -> list[int] | None:
        if seeds is not None and len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds repeat: {seeds}")
        return seeds


class VerdictConfig(Strict):
    """How the report judges the best config against the reference defaults (see sweep.report.verdict)."""

    # The equivalence margin, Spearman units: a difference whose whole interval lies within ±margin is too
    # small to matter, and the verdict says "equivalent" (0.005: half a point of STS spearman_cosine ×100).
    margin: float = Field(0.005, ge=0, le=1)


class ExperimentConfig(Strict):
    """One experiment file, validated."""

    name: str = Field("experiment", pattern=NAME_PATTERN)  # experiment folder prefix; the file's stem by default
    results_dir: str = "results"  # experiments land in results_dir/<name>-<timestamp>/
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    search_space: dict[str, Any] = Field(default_factory=dict)  # see sweep.config.search_space for the vocabulary
    search: SearchConfig = SearchConfig()
    objective: ObjectiveConfig = ObjectiveConfig()  # what is optimised; see sweep.config.objective
    scheduler: SchedulerConfig = SchedulerConfig()
    resources: ResourcesConfig = ResourcesConfig()
    cluster: ClusterConfig = ClusterConfig()
    failures: FailuresConfig = FailuresConfig()
    retrain: RetrainConfig = RetrainConfig()
    verdict: VerdictConfig = VerdictConfig()
    tracking: TrackingConfig = TrackingConfig()  # TensorBoard, MLflow, W&B: all off; see sweep.tracking
    _space: dict[str, Param] = PrivateAttr(default_factory=dict)  # search_space, parsed once (`space`)

    @model_validator(mode="after")
    def _parse_space(self) -> ExperimentConfig:
        self._space = parse_space(self.search_space)  # InputError names the bad entry (see _one_line)
        return self

    @model_validator(mode="after")
    def _fp16_needs_gpu(self) -> ExperimentConfig:
        if self.train.precision == "fp16" and self.resources.gpu == 0:
            raise ValueError("train.precision fp16 needs resources.gpu > 0; use auto, fp32 or bf16")
        return self

    @model_validator(mode="after")
    def _margin_needs_a_full_budget(self) -> ExperimentConfig:
        # The bar is the defaults' trial's full-depth STS-dev at its own chosen evaluation; PASHA may rank that
        # trial at its second rung, a fraction of the budget, where any trial clears it.
        if self.objective.full_depth_margin is not None and self.scheduler.type == "pasha":
            raise ValueError(
                "objective.full_depth_margin holds trials to the reference defaults' trial at its chosen evaluation, "
                "which scheduler.type pasha may end after a fraction of the budget; use scheduler.type asha with it"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _retrain_seeds(cls, raw: Any) -> Any:
        """Fill in the default retrain seeds from train.seed; the sections themselves are validated after."""
        if not isinstance(raw, dict):
            return raw
        train, retrain = raw.get("train", {}), raw.get("retrain", {})
        if not isinstance(train, dict) or not isinstance(retrain, dict) or retrain.get("seeds") is not None:
            return raw
        seed = train.get("seed", TrainConfig.model_fields["seed"].default)
        if not isinstance(seed, int) or isinstance(seed, bool):
            return raw  # the train section's own validation names the bad seed
        # Wrapped at numpy's limit, so that the default is valid whenever train.seed is.
        seeds = [(seed + i) % (MAX_SEED + 1) for i in range(1, DEFAULT_RETRAIN_SEEDS + 1)]
        return {**raw, "retrain": {**retrain, "seeds": seeds}}

    @property
    def retrain_seeds(self) -> list[int]:
        """The retrain's seeds (resolved: never None after validation)."""
        return list(self.retrain.seeds or [])

    @property
    def seeds_seen(self) -> list[int]:
        """Retrain seeds that a sweep trial also trained with (the report says so)."""
        return [seed for seed in self.retrain_seeds if seed == self.train.seed]

    @property
    def space(self) -> dict[str, Param]:
        """The validated search space, parsed when the config was validated."""
        return self._space

    @property
    def reference(self) -> dict[str, Any]:
        """The reference defaults of every parameter (the loss's defaults, the trainer knobs of ``train``):
        the sweep's first point, and what the retrain compares the winner with."""
        return reference_point(self.train)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read an experiment YAML, apply ``key.sub=value`` overrides, validate. Raises InputError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the config file ({error.__class__.__name__}: {error})") from None
    return load_config_text(text, str(path), overrides)


def check_override_keys(overrides: list[str] | tuple[str, ...], allowed: tuple[str, ...], refusal: str) -> None:
    """InputError (``--set KEY=VALUE: refusal``) for an override whose key starts with none of ``allowed``:
    for the commands that may change only part of a recorded config."""
    for override in overrides:
        if not override.partition("=")[0].startswith(allowed):
            raise InputError(f"--set {override}: {refusal}")


def load_config_text(text: str, path: str, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """``load_config`` on the file's text; ``path`` names it in messages and gives the default name."""
    try:
        raw = load(text)
    except YamlError as error:
        where = f" at line {error.line}" if error.line else ""
        raise InputError(f"{path}: malformed YAML{where}: {error.problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the top level must be a mapping of sections, got {type(raw).__name__}")
    raw.setdefault("name", re.sub(r"[^A-Za-z0-9_.-]", "-", Path(path).stem) or "experiment")
    for override in overrides:
        apply_override(raw, override)
    return validate(raw)


def validate(raw: dict[str, Any]) -> ExperimentConfig:
    """Validate a config mapping; the first problem becomes one InputError line naming the key."""
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as error:
        raise InputError(_one_line(error)) from None
    return config


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` in ``raw``; the value is read as YAML (``0.5``, ``[1, 2]``, ``{uniform: [0, 1]}``)."""
    key, sep, text = override.partition("=")
    if not sep or not key or not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", key):
        raise InputError(f"--set {override!r}: expected key.sub=value, e.g. train.batch_size=32")
    try:
        value = load(text)  # YAML 1.2, as the file is read: `1e-5` is a float, `1:30` is text
    except YamlError as error:
        shown = text if len(text) <= 80 else f"{text[:77]}..."  # the reason must fit on the one line too
        raise InputError(f"--set {key}: cannot read {shown!r} as a value: {error.problem}") from None
    node = raw
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise InputError(f"--set {key}: {'.'.join(parts[: depth + 1])} is a value, not a section")
        node = child
    node[parts[-1]] = value
    if parts[0] == "model" and len(parts) >= 2 and parts[1] in MODEL_SOURCES:
        # A model has exactly one source; naming one on the command line replaces the file's.
        for other in MODEL_SOURCES:
            if other != parts[1]:
                raw["model"].pop(other, None)


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, InputError):
        return str(cause)  # a validator that names the key itself (the search space's entries)
    key = ".".join(str(part) for part in first["loc"]) or "config"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(first["loc"][:-1])
        return f"{key}: unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if first["type"] == "missing":
        return f"{key}: required"
    shown = repr(first.get("input"))
    said = isinstance(first.get("input"), str) and first["input"] in message  # a validator that named it
    if "input" in first and not isinstance(first["input"], dict) and len(shown) <= 80 and not said:
        return f"{key}: {message} (got {shown})"
    return f"{key}: {message}"


def _allowed_keys(loc: tuple) -> list[str]:
    """Field names of the config section at ``loc``, for the unknown-key message."""
    section: Any = ExperimentConfig
    for part in loc:
        fields = getattr(section, "model_fields", {})
        if part not in fields:
            return []
        annotation = fields[part].annotation
        candidates = [annotation, *typing.get_args(annotation)]
        section = next((c for c in candidates if isinstance(c, type) and issubclass(c, Strict)), None)
        if section is None:
            return []
    return list(section.model_fields)


def to_yaml(config: ExperimentConfig) -> str:
    """The fully resolved config, every default written out, for the experiment folder."""
    return dump(config.model_dump(mode="json"))  # read back by the same YAML 1.2 reader
