"""The search-space vocabulary of experiment files, its validation, and its translation to Ray Tune.

An entry of ``search_space:`` is either a fixed value or a one-key mapping::

    kl_temperature: {loguniform: [0.05, 2.0]}
    n_layers_per_step: {choice: [1, 2, -1]}
    last_layer_weight: {uniform: [0.5, 2.0]}
    batch_size: {int: [16, 64]}
    kl_div_weight: 1.0                      # fixed

Parameters not named keep their reference value (``LOSS_DEFAULTS`` and the ``train:`` section).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from trainables.errors import InputError
from trainables.loss import LAYER_WEIGHTINGS, LOSS_DEFAULTS
from trainables.schema import MAX_INT64
from trainables.train_config import TrainConfig

Kind = Literal["fixed", "uniform", "loguniform", "int", "choice"]
KINDS: tuple[str, ...] = ("uniform", "loguniform", "int", "choice")


@dataclass(frozen=True)
class Rule:
    """What one parameter accepts: its value type, bounds, and the domain kinds that make sense."""

    type: type
    low: float | None = None  # inclusive unless low_open
    high: float | None = None  # inclusive unless high_open
    low_open: bool = False
    high_open: bool = False
    allowed: tuple[Any, ...] | None = None
    meaning: str = ""

    def kinds(self) -> tuple[str, ...]:
        if self.type is str:
            return ("choice",)
        if self.type is int:
            return ("int", "choice")
        return ("uniform", "loguniform", "choice")

    def describe(self) -> str:
        if self.type is str:
            return "one of " + ", ".join(repr(v) for v in self.allowed or ())
        left = "(" if self.low_open else "["
        right = ")" if self.high_open or self.high is None else "]"  # inf itself is refused
        shown = "{:d}" if self.type is int else "{:g}"
        low = "-inf" if self.low is None else shown.format(self.low)
        high = "inf" if self.high is None else shown.format(self.high)
        extra = "".join(f" or {v!r}" for v in self.allowed or ())
        return f"a {self.type.__name__} in {left}{low}, {high}{right}{extra}"

    def check(self, key: str, value: Any) -> Any:
        """Return ``value`` coerced to the rule's type, or raise InputError naming the key."""
        where = f"search_space.{key}"
        # A 400-digit number would fill the line; nor could float() or int64 take one.
        if isinstance(value, int) and len(str(abs(value))) > 40:
            raise InputError(f"{where}: a {len(str(abs(value)))}-digit number is out of range; use {self.describe()}")
        if self.type is str:
            if value not in (self.allowed or ()):
                raise InputError(f"{where}: {value!r} is not allowed; use {self.describe()}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where}: {value!r} is not a number; use {self.describe()}")
        if self.type is int:
            # Judged without float() or int() of the value: both overflow on 1e400 (inf) or a 400-digit int.
            if not (isinstance(value, int) or value.is_integer()):
                raise InputError(f"{where}: {value!r} is not an integer; use {self.describe()}")
            value = int(value)
        else:
            if not math.isfinite(value):
                raise InputError(f"{where}: {value!r} is not finite; use {self.describe()}")
            value = float(value)
        if self.allowed is not None and value in self.allowed:
            return value
        too_low = self.low is not None and (value < self.low or (self.low_open and value == self.low))
        too_high = self.high is not None and (value > self.high or (self.high_open and value == self.high))
        if too_low or too_high:
            raise InputError(f"{where}: {value!r} is out of range; use {self.describe()}")
        return value


# Every parameter a trial accepts, declared once. n_layers_per_step's upper bound depends on the
# model's depth and is checked by `check_depth` once the model is known. Whole numbers stop at int64's
# largest: tune.randint draws int64, and trials.parquet's columns hold int64.
RULES: dict[str, Rule] = {
    "kl_temperature": Rule(float, low=0.0, meaning="softmax temperature of the KL term; 0 turns the KL term off"),
    "last_layer_weight": Rule(float, low=0.0, meaning="weight of the full-depth loss"),
    "prior_layers_weight": Rule(float, low=0.0, meaning="weight of the shallower layers' losses"),
    "kl_div_weight": Rule(float, low=0.0, meaning="weight of the KL term pulling shallow layers to the last"),
    # -1 is AdaptiveLayerLoss's "all layers"; 0 would silently mean the same, so it is refused.
    "n_layers_per_step": Rule(int, low=1, high=MAX_INT64, allowed=(-1,), meaning="prior layers per step; -1 = all"),
    "layer_weighting": Rule(str, allowed=LAYER_WEIGHTINGS, meaning="how prior layers' losses are weighted"),
    "learning_rate": Rule(float, low=0.0, high=1.0, low_open=True, high_open=True, meaning="peak learning rate"),
    "warmup_ratio": Rule(float, low=0.0, high=1.0, high_open=True, meaning="share of steps spent warming up"),
    "batch_size": Rule(int, low=2, high=MAX_INT64, meaning="triplets per batch (in-batch negatives need at least 2)"),
}
TRAINER_KNOBS = ("learning_rate", "warmup_ratio", "batch_size")


@dataclass(frozen=True)
class Param:
    """One validated search-space entry."""

    kind: Kind
    values: tuple[Any, ...]  # (value,) for fixed, (low, high) for ranges, the options for choice

    @property
    def searched(self) -> bool:
        return self.kind != "fixed" and not (self.kind == "choice" and len(self.values) == 1)

    def contains(self, value: Any) -> bool:
        if self.kind in ("fixed", "choice"):
            return value in self.values
        return self.values[0] <= value <= self.values[1]

    def describe(self) -> str:
        """As a person reads it: ``uniform [0.5, 2.0]``, ``choice [1, 2, -1]`` or the fixed value."""
        return repr(self.values[0]) if self.kind == "fixed" else f"{self.kind} {list(self.values)}"


def parse_param(key: str, raw: Any) -> Param:
    """Validate one ``search_space`` entry against its rule."""
    if key not in RULES:
        raise InputError(f"search_space.{key}: unknown parameter; allowed: {', '.join(RULES)}")
    rule = RULES[key]
    where = f"search_space.{key}"
    if not isinstance(raw, dict):
        if isinstance(raw, list):
            raise InputError(f"{where}: a list is ambiguous; write {{choice: {raw}}} or a single value")
        return Param("fixed", (rule.check(key, raw),))
    if len(raw) != 1 or next(iter(raw)) not in KINDS:
        raise InputError(f"{where}: expected a value or one of {{{': ..., '.join(KINDS)}: ...}}, got {raw!r}")
    kind, spec = next(iter(raw.items()))
    if kind not in rule.kinds():
        raise InputError(f"{where}: {kind} does not fit a {rule.type.__name__}; use {' or '.join(rule.kinds())}")
    if not isinstance(spec, list) or not spec:
        raise InputError(f"{where}: {kind} needs a non-empty list, got {spec!r}")
    values = tuple(rule.check(key, v) for v in spec)
    if kind == "choice":
        if len(set(values)) != len(values):
            raise InputError(f"{where}: choice lists a value twice: {list(spec)}")
        return Param("choice", values)
    if len(values) != 2:
        raise InputError(f"{where}: {kind} needs [low, high], got {list(spec)}")
    low, high = values
    if not low < high:
        raise InputError(f"{where}: {kind} needs low < high, got [{low}, {high}]")
    if kind == "loguniform" and low <= 0:
        raise InputError(f"{where}: loguniform needs low > 0, got {low}")
    if kind == "int" and -1 in values:
        raise InputError(f"{where}: -1 (all layers) cannot be a range bound; use choice, e.g. {{choice: [1, 2, -1]}}")
    return Param(kind, values)


def parse_space(raw: dict[str, Any]) -> dict[str, Param]:
    """Validate a whole ``search_space`` mapping."""
    return {key: parse_param(key, value) for key, value in raw.items()}


def check_depth(space: dict[str, Param], n_layers: int) -> None:
    """Refuse ``n_layers_per_step`` values beyond the model's ``n_layers`` prior layers."""
    param = space.get("n_layers_per_step")
    if param is None:
        return
    top = max(v for v in param.values if v != -1) if any(v != -1 for v in param.values) else -1
    if top > n_layers:
        raise InputError(
            f"search_space.n_layers_per_step: {top} exceeds the model's {n_layers} layers; "
            f"use -1 (all) or 1..{n_layers}"
        )


def reference_point(train: TrainConfig) -> dict[str, Any]:
    """The reference defaults for every parameter: the loss's defaults and the fixed trainer settings
    (read through ``ExperimentConfig.reference``)."""
    return {**LOSS_DEFAULTS, **{key: getattr(train, key) for key in TRAINER_KNOBS}}


def check_reference_inside(space: dict[str, Param], reference: dict[str, Any]) -> None:
    """The reference defaults are evaluated first, so every searched domain must contain them."""
    for key, param in space.items():
        if param.searched and not param.contains(reference[key]):
            raise InputError(
                f"search_space.{key}: {param.describe()} leaves out the reference default {reference[key]!r}, "
                "which the sweep evaluates first; widen the range or fix the value"
            )


def trial_params(space: dict[str, Param], reference: dict[str, Any]) -> dict[str, Any]:
    """The full parameter set of a trial before search: reference values overridden by fixed entries."""
    params = dict(reference)
    for key, param in space.items():
        if not param.searched:
            params[key] = param.values[0]
    return params


def first_point(space: dict[str, Param], reference: dict[str, Any]) -> dict[str, Any]:
    """The point Optuna evaluates first: the reference value of every searched parameter."""
    return {key: reference[key] for key, param in space.items() if param.searched}
