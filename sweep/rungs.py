"""ASHA's rungs across a crash: what the trials finished before it reported, told to the resumed scheduler.

A resumed sweep builds a new Tuner, and with it a new scheduler: Ray Tune keeps no scheduler state across
one (its own open issue #30838). ASHA would then judge each trial of the resumed sweep only against the
trials run since the crash, and stop (or keep) trials that an uninterrupted sweep would have kept (or
stopped). So before the resumed sweep starts, every trial that had finished is told to the new scheduler
through Ray Tune's public scheduler interface, as Tune told it the first time: added, each recorded report
in order, then its end. ASHA records a trial's score at each rung it passes whatever it decides, so the
rungs then hold what they held when the driver died. The trials the crash interrupted are not told: they
run again from step 1 and report afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ray.tune.schedulers import TrialScheduler


@dataclass(frozen=True)
class ReplayedTrial:
    """What Ray Tune's schedulers read of a trial: its id (async_hyperband.py keys every rung by it)."""

    trial_id: str


@dataclass(frozen=True)
class Reported:
    """One trial's recorded reports, in order, and whether it ended in an error."""

    trial_id: str
    rows: list[dict[str, Any]]
    errored: bool = False


def prime(scheduler: TrialScheduler, earlier: Iterable[Reported]) -> int:
    """Tell ``scheduler`` each of the ``earlier`` trials (its decisions are not used); returns how many."""
    told = 0
    for reported in earlier:
        if not reported.rows:
            continue
        trial = ReplayedTrial(reported.trial_id)
        scheduler.on_trial_add(None, trial)
        for row in reported.rows:
            scheduler.on_trial_result(None, trial, row)
        if reported.errored:
            scheduler.on_trial_error(None, trial)
        else:
            scheduler.on_trial_complete(None, trial, reported.rows[-1])
        told += 1
    return told
