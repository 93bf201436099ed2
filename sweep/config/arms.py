"""The retrain's arms: the configs trained next to the winner so that its difference can be attributed.

Compared with the reference defaults, the winner differs in the loss settings and, where the search moved
them, in the trainer settings (learning rate, warm-up, batch size): a difference between the two is the
effect of both. The arms split it:

- ``best``: the winner, as the sweep picked it (its first seed's model is delivered);
- ``defaults``: the loss's reference defaults at the recipe's own trainer settings (what a user would run
  without a sweep);
- ``defaults_at_best_trainer``: the loss's defaults, every trainer knob the search moved at the winner's
  value (the defaults themselves when no trainer knob was searched);
- ``plain``: MultipleNegativesRankingLoss alone, no AdaptiveLayerLoss, at the winner's trainer settings;
- ``untrained``: the base model before training, scored once.

``ATTRIBUTION`` names the differences the report judges: ``total`` = best − defaults; ``loss`` = best −
defaults_at_best_trainer (what the loss settings bought); ``trainer`` = defaults_at_best_trainer −
defaults (what the trainer settings bought); ``adaptive`` = best − plain (what AdaptiveLayerLoss, as
tuned, buys over plain training). Two arms whose configs are equal are one set of runs, trained once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from sweep.config.search_space import TRAINER_KNOBS
from trainables.loss import ADAPTIVE

if TYPE_CHECKING:
    from sweep.config.experiment import ExperimentConfig
    from sweep.config.search_space import Param

ArmName = Literal["best", "defaults", "defaults_at_best_trainer", "plain", "untrained"]
ARMS: tuple[ArmName, ...] = get_args(ArmName)
# Each arm's name as a plain string, as the tables below and the records' keys use it.
BEST, DEFAULTS, DEFAULTS_AT_BEST_TRAINER, PLAIN, UNTRAINED = (str(arm) for arm in ARMS)
# Record and run names: the defaults' runs keep the name folders written before the other arms existed.
RUN_NAMES = {BEST: "best", DEFAULTS: "default", DEFAULTS_AT_BEST_TRAINER: DEFAULTS_AT_BEST_TRAINER, PLAIN: PLAIN}
ATTRIBUTION = {
    "total": (BEST, DEFAULTS),
    "loss": (BEST, DEFAULTS_AT_BEST_TRAINER),
    "trainer": (DEFAULTS_AT_BEST_TRAINER, DEFAULTS),
    "adaptive": (BEST, PLAIN),
}
# Short names for table columns and plot legends.
LABELS = {
    "best": "best config",
    "defaults": "reference defaults",
    "defaults_at_best_trainer": "loss defaults, winner's trainer",
    "plain": "plain MNRL, winner's trainer",
    "untrained": "untrained",
}
COMPARISON_WORDS = {
    "loss": "loss settings (best − the loss's defaults at the winner's trainer settings)",
    "trainer": "trainer settings (the loss's defaults at the winner's trainer settings − the reference defaults)",
    "total": "total (best − the reference defaults)",
    "adaptive": "AdaptiveLayerLoss over plain training (best − plain MNRL at the winner's trainer settings)",
}
WORDS = {
    BEST: "the best config",
    DEFAULTS: "the reference defaults",
    DEFAULTS_AT_BEST_TRAINER: "the loss's defaults at the winner's trainer settings",
    PLAIN: "plain MultipleNegativesRankingLoss at the winner's trainer settings",
    UNTRAINED: "the untrained model",
}


@dataclass(frozen=True)
class Arm:
    """One arm: ``params`` None for the untrained model; ``runs_of`` the arm whose runs it is (itself
    unless an earlier arm has the same config); ``note`` why it is not trained on its own, if it is not."""

    name: ArmName
    params: dict[str, Any] | None
    runs_of: ArmName
    note: str | None = None


def plan_arms(config: ExperimentConfig, best: dict[str, Any] | None, default: dict[str, Any]) -> list[Arm]:
    """The arms ``retrain.arms`` asks for, in ``ARMS`` order, each with its config. Without a winner
    (``best`` None: no trial was feasible) only the arms that need none: the defaults and the untrained model."""
    moved = searched_trainer_knobs(config.space)
    configs: dict[str, dict[str, Any]] = {DEFAULTS: default}
    if best is not None:
        configs |= {
            BEST: best,
            DEFAULTS_AT_BEST_TRAINER: {**default, **{key: best[key] for key in moved}},
            PLAIN: {**{key: best.get(key, default[key]) for key in TRAINER_KNOBS}, ADAPTIVE: False},
        }
    arms: list[Arm] = []
    for name in (arm for arm in ARMS if arm in config.retrain.arms and (arm in configs or arm == UNTRAINED)):
        if name == UNTRAINED:
            arms.append(Arm(name, None, name))
            continue
        params = configs[name]
        same = next((arm for arm in arms if arm.params == params), None)
        if same is None:
            arms.append(Arm(name, params, name))
        else:
            arms.append(Arm(name, params, same.runs_of, _note(name, same.name, moved)))
    return arms


def _note(name: str, same: str, moved: list[str]) -> str:
    if name == DEFAULTS_AT_BEST_TRAINER and not moved:
        return f"no trainer knob was searched: the runs of {same}"
    return f"the same config as {same}: its runs"


def searched_trainer_knobs(space: dict[str, Param]) -> list[str]:
    """The trainer knobs the search moved: where any is, the loss settings' effect is not the total's."""
    return [key for key in TRAINER_KNOBS if key in space and space[key].searched]


def headline_order(trainer_moved: bool) -> list[str]:
    """The differences in the order a reader needs them: the loss settings' first when a trainer knob was
    searched (the total then mixes both); else the total is the loss settings' effect, and the trainer's nil."""
    return ["loss", "trainer", "total", "adaptive"] if trainer_moved else ["total", "adaptive"]
