"""A scheduler's state across a crash: what the trials finished before it reported, told to the resumed one.

A resumed sweep builds a new Tuner, and with it a new scheduler: Ray Tune keeps no scheduler state across
one (its own open issue #30838). ASHA would then judge each trial of the resumed sweep only against the
trials run since the crash, and stop (or keep) trials that an uninterrupted sweep would have kept (or
stopped). So before the resumed sweep starts, every trial that had finished is told to the new scheduler
through Ray Tune's public scheduler interface, as Tune told it the first time: added, each recorded report
in the order the reports were made (across trials), each trial's end after its last. ASHA records a
trial's score at each rung it passes whatever it decides, so the rungs then hold what they held when the
driver died; PASHA's top rung and the median rule's running means follow the same reports in the same
order. The trials the crash interrupted are not told: they run again from step 1 and report afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ray.tune.schedulers import TrialScheduler

from sweep.store.ranking import finite

if TYPE_CHECKING:
    from ray.tune.execution.tune_controller import TuneController
    from ray.tune.experiment import Trial

# A scheduler driven without Tune has no controller to be told of; the ones this sweep builds read none.
NO_CONTROLLER = cast("TuneController", None)


@dataclass(frozen=True)
class ReplayedTrial:
    """What Ray Tune's schedulers read of a trial: its id (async_hyperband.py keys every rung by it)."""

    trial_id: str

    def as_trial(self) -> Trial:
        """This stand-in where a scheduler's interface names Tune's trial, of which it has what they read."""
        return cast("Trial", self)


@dataclass(frozen=True)
class Reported:
    """One trial's recorded reports, in order, and whether it ended in an error."""

    trial_id: str
    rows: list[dict[str, Any]]
    errored: bool = False


def prime(scheduler: TrialScheduler, earlier: Iterable[Reported]) -> int:
    """Tell ``scheduler`` each of the ``earlier`` trials (its decisions are not used); returns how many.

    The reports go in the order they were made (``reported_at``) where every one says when, so that a
    scheduler whose state depends on the order across trials (PASHA's top rung, the median rule's running
    means) ends where the crashed sweep's stood; else trial by trial, in the order given."""
    told = [reported for reported in earlier if reported.rows]
    trials = [ReplayedTrial(reported.trial_id).as_trial() for reported in told]
    for trial in trials:
        scheduler.on_trial_add(NO_CONTROLLER, trial)
    reports = [(i, k) for i, reported in enumerate(told) for k in range(len(reported.rows))]
    if all(finite(told[i].rows[k].get("reported_at")) for i, k in reports):
        reports.sort(key=lambda at: (float(told[at[0]].rows[at[1]]["reported_at"]), at))
    for i, k in reports:
        reported, row = told[i], told[i].rows[k]
        scheduler.on_trial_result(NO_CONTROLLER, trials[i], row)
        if k < len(reported.rows) - 1:
            continue
        if reported.errored:
            scheduler.on_trial_error(NO_CONTROLLER, trials[i])
        else:
            scheduler.on_trial_complete(NO_CONTROLLER, trials[i], row)
    return len(told)
