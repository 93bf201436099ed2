"""The scheduler a sweep and its replay both build (``scheduler.type``), on Ray Tune's ``TrialScheduler``
interface, in units of STS-dev evaluations (``training_iteration``: one report per evaluation).

None of them pauses a trial: the sweep writes no checkpoints, so a trial can only go on or stop. That rules
out Ray's synchronous ``HyperBandScheduler`` (it pauses trials at each rung until the bracket fills) and the
median rule's pausing; ``hyperband`` here is Ray's asynchronous form, ASHA over several brackets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ray.tune import Callback
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule, TrialScheduler

from sweep.config.experiment import ExperimentConfig
from sweep.tuning.pasha import Pasha
from trainables.errors import InputError
from trainables.internals import bracket_rung_count, hyperband_brackets, place_in_bracket
from trainables.metrics import MODE, RANKED

TIME_ATTR = "training_iteration"


class SeededHyperBand(ASHAScheduler):
    """Ray's asynchronous Hyperband, its brackets drawn from a seeded generator instead of numpy's global
    one: the same trials in the same order land in the same brackets, so a replay makes the sweep's
    decisions. The draw is Ray's (a softmax over the brackets' rung counts)."""

    def __init__(self, seed: int, **kwargs):
        super().__init__(**kwargs)
        self._rng = np.random.default_rng(seed)

    def on_trial_add(self, tune_controller, trial) -> None:
        brackets = hyperband_brackets(self)
        sizes = np.array([bracket_rung_count(bracket) for bracket in brackets])
        weights = np.exp(sizes - sizes.max())
        place_in_bracket(self, trial.trial_id, brackets[self._rng.choice(len(sizes), p=weights / weights.sum())])


def build_scheduler(config: ExperimentConfig, max_t: int) -> TrialScheduler:
    """The scheduler of ``scheduler.type`` on ``max_t`` evaluations (a full run's), judging one metric
    (``objective.prune_on``) even when Optuna optimises two."""
    settings = config.scheduler
    if settings.type == "none":
        return FIFOScheduler()
    if settings.grace_period > max_t:
        raise InputError(
            f"scheduler.grace_period: {settings.grace_period} exceeds the {max_t} STS-dev evaluations "
            f"of a full run; use 1..{max_t} or lower train.eval_steps"
        )
    metric = config.objective.prune_metric
    if settings.type == "median":
        # min_time_slice infinite: with too few other trials the rule goes on rather than pausing.
        return MedianStoppingRule(
            time_attr=TIME_ATTR,
            metric=metric,
            mode=MODE,
            grace_period=settings.grace_period,
            min_samples_required=settings.median_samples,
            min_time_slice=float("inf"),  # type: ignore[arg-type]  # annotated int; read as a time
            hard_stop=True,
        )
    if settings.type == "pasha":
        return Pasha(metric, MODE, max_t, settings.grace_period, settings.reduction_factor)
    asha: dict[str, Any] = {
        "time_attr": TIME_ATTR,
        "metric": metric,
        "mode": MODE,
        "max_t": max_t,
        "grace_period": settings.grace_period,
        "reduction_factor": settings.reduction_factor,
    }
    if settings.type == "hyperband":
        return SeededHyperBand(seed=config.search.seed, brackets=settings.bracket_count, **asha)
    return ASHAScheduler(**asha)


def ranked(scheduler: TrialScheduler) -> dict[str, int]:
    """The trials the scheduler ended at its top rung as completed (PASHA's), by the evaluation they ended at."""
    return scheduler.ranked if isinstance(scheduler, Pasha) else {}


class MarkRanked(Callback):
    """Marks the report at which the scheduler ranked a trial (ended it at its top rung as completed) as
    ``completed``, as a trial that ran its budget marks its last report, so that result.json, the frames,
    Optuna and the progress lines all count it completed. Tune calls its callbacks after the scheduler and
    before the loggers write the report, and lets a callback change the report in place; so this callback
    comes first."""

    def __init__(self, scheduler: TrialScheduler):
        self.scheduler = scheduler

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        at = ranked(self.scheduler).get(trial.trial_id)
        if at is not None and result.get(TIME_ATTR) == at:
            result.update({"completed": True, RANKED: True})
