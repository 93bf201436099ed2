"""Replays a recorded sweep through the sweep's own scheduler in virtual time.

The decision makers are the objects the sweep builds (``sweep.tuning.schedulers.build_scheduler``: ASHA,
Hyperband, the median rule, PASHA, or FIFO with ``scheduler.type: none``; ``build_plateau``: the trials' own
patience rule), driven through Ray Tune's public scheduler interface (``on_trial_add``,
``on_trial_result``, ``on_trial_complete``, ``on_trial_error``) in the order Tune's controller calls them.
The schedulers read nothing of a trial but its ``trial_id`` (the median rule also hashes it), so a trial
here is a small object holding only that; no Ray is started. A trial PASHA ranks at its top rung ends
there completed, as the sweep marks it (``sweep.tuning.schedulers.MarkRanked``).

Timing model, all of it taken from the recording (``reports.parquet``), per trial:

- the trial *starts* when Ray started it (its first report's ``reported_at`` minus its ``time_total_s``);
- each report comes at the trial's start plus the recorded seconds to that report (``reported_at`` minus
  the start: start-up, then each report's duration, ``time_this_iter_s``);
- the trial *ends* at its last report, and frees its worker;
- a *start overhead*: the recorded gap between the worker that the trial took freeing up and the trial
  starting (for the first trials of a sweep, their gap after the sweep's first start). Tune starts trials
  in the order the searcher proposed them (``trial_index``) as workers free up, so the k-th trial beyond
  the concurrency took the worker freed by the k-th trial to end.

Time is an event queue (heapq): a trial's next report is the next event, never a sleep. Configs come in
the recorded order, ``min(workers, search.max_concurrent)`` at a time. A recorded trial that was stopped
early has no curve beyond its last report: where a setting lets it go on, it ends there ("curve ends"),
is counted, and is never a winner (its rest is unknown). A trial that never reported (it failed first)
is left out, and so is the time it held a worker.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from ray.tune.schedulers import TrialScheduler

from sweep.config.experiment import ExperimentConfig
from sweep.tuning.rungs import NO_CONTROLLER, ReplayedTrial, Reported, prime
from sweep.tuning.schedulers import build_scheduler, ranked
from sweep.tuning.tuner import build_plateau
from trainables.errors import InputError

CONTINUE, STOP, COMPLETE = "continue", "stop", "complete"  # the fate of one report
CURVE_ENDS = "curve ends"  # a trial the setting let go on past its last recorded report


@dataclass(frozen=True)
class Curve:
    """One recorded trial: its reports and when each came."""

    trial_id: str  # a resampled copy has its own (``<id>#<n>``); ``source`` is the recorded one
    source: str
    fate: str  # recorded status: completed / pruned / errored / unfinished
    rows: list[dict[str, Any]]  # the report rows, in order
    offsets: list[float]  # seconds from the trial's start to each report
    overhead_s: float  # seconds from its worker freeing up to its start

    @property
    def full_length(self) -> bool:
        """Whether the recorded run trained its whole budget (its last report is at its last step)."""
        return int(self.rows[-1]["step"]) >= int(self.rows[-1]["total_steps"])

    @property
    def recorded_decisions(self) -> list[str]:
        """What the real run decided at each report: its last one ended it (completed, or stopped by
        ASHA) unless the trial errored or the sweep stopped first."""
        last = [COMPLETE if row.get("completed") else CONTINUE for row in self.rows]
        if self.fate == "pruned" and last:
            last[-1] = STOP
        return last


@dataclass(frozen=True)
class Recording:
    """The recorded sweep as the simulator reads it."""

    curves: list[Curve]
    concurrency: int  # trials that ran at once
    wall_s: float  # trial phase: first trial start to last trial end
    full_run_s: float  # one full training run (median of the runs that trained their whole budget)
    max_t: int  # ASHA's max_t: evaluations of the longest full run


@dataclass
class Outcome:
    """One replay: what became of each trial, and when."""

    statuses: dict[str, str] = field(default_factory=dict)  # completed / pruned / curve ends / errored
    decisions: dict[str, list[str]] = field(default_factory=dict)  # per trial, the fate of each report seen
    busy_s: dict[str, float] = field(default_factory=dict)  # per trial, start to end
    stopped_at: Counter = field(default_factory=Counter)  # training_iteration -> trials ASHA stopped there
    wall_s: float = 0.0
    calls: int = 0  # scheduler decisions asked for
    seconds: float = 0.0  # the simulator's own time


def read_recording(
    trials: pd.DataFrame, reports: pd.DataFrame, config: ExperimentConfig, max_t: int | None = None
) -> Recording:
    """The curves and timings of a recorded sweep's frames (``load_trials`` / ``load_reports``) and its
    config; ``max_t`` as the sweep gave ASHA (experiment.json), else worked out from the reports."""
    if reports.empty:
        raise InputError("the folder has no STS-dev reports yet: nothing to replay")
    for column in ("reported_at", "time_total_s"):
        if column not in reports or reports[column].isna().any():
            raise InputError(f"reports.parquet: {column} is missing on some reports, so their times are unknown")
    rows = {tid: group.sort_values("training_iteration") for tid, group in reports.groupby("trial_id", sort=False)}
    ordered = [t for t in trials.sort_values("trial_index").to_dict("records") if t["trial_id"] in rows]
    starts, ends = {}, {}
    for trial in ordered:
        history = rows[trial["trial_id"]]
        first = history.iloc[0]
        starts[trial["trial_id"]] = float(first["reported_at"]) - float(first["time_total_s"])
        ends[trial["trial_id"]] = float(history["reported_at"].iloc[-1])
    concurrency = _overlap(starts, ends, config.search.max_concurrent)
    origin, freed = min(starts.values()), sorted(ends.values())
    curves = []
    for i, trial in enumerate(ordered):
        tid, history = trial["trial_id"], rows[trial["trial_id"]]
        after = origin if i < concurrency else freed[i - concurrency]
        curves.append(
            Curve(
                trial_id=tid,
                source=tid,
                fate=trial["status"],
                rows=history.to_dict("records"),
                offsets=[float(at) - starts[tid] for at in history["reported_at"]],
                overhead_s=max(0.0, starts[tid] - after),  # a clock's jitter never makes a start earlier
            )
        )
    full = [c.offsets[-1] for c in curves if c.full_length]
    longest = max(math.ceil(int(c.rows[-1]["total_steps"]) / config.train.eval_steps) for c in curves)
    return Recording(
        curves=curves,
        concurrency=concurrency,
        wall_s=max(ends.values()) - origin,
        full_run_s=float(np.median(full)) if full else max(c.offsets[-1] for c in curves),
        max_t=int(max_t) if max_t else longest,
    )


def _overlap(starts: dict[str, float], ends: dict[str, float], cap: int) -> int:
    """The most trials that ran at once (at most ``cap``, the sweep's ``search.max_concurrent``)."""
    events = sorted([(at, 1) for at in starts.values()] + [(at, -1) for at in ends.values()])
    running = most = 0
    for _, change in events:  # an end at the same instant as a start comes first (-1 sorts before 1)
        running += change
        most = max(most, running)
    return max(1, min(most, cap))


def bootstrap(curves: list[Curve], k: int, seed: int) -> list[Curve]:
    """``k`` trials drawn from the recorded ones with replacement (seeded): resampled curves for scale
    figures, in the drawn order, not a new search."""
    if k < 1:
        raise InputError(f"--bootstrap: {k}; give the number of trials to draw, 1 or more")
    picks = np.random.default_rng(seed).integers(0, len(curves), size=k)
    return [dataclasses.replace(curves[p], trial_id=f"{curves[p].trial_id}#{n}") for n, p in enumerate(picks)]


def replay(
    curves: list[Curve], config: ExperimentConfig, concurrency: int, max_t: int, earlier: list[Curve] | None = None
) -> Outcome:
    """Run ``curves`` through the scheduler and patience rule of ``config``, ``concurrency`` at a time,
    in virtual time; time 0 is the first trial's start. ``earlier``: trials finished before a crash, told
    to the scheduler first, as a resumed sweep tells them (``sweep.tuning.rungs``)."""
    began = time.perf_counter()
    scheduler, plateau = build_scheduler(config, max_t), build_plateau(config)
    prime(scheduler, [as_reported(curve) for curve in earlier or []])
    metric = config.objective.prune_metric
    outcome = Outcome()
    waiting = list(reversed(range(len(curves))))  # pop() takes the next in the recorded order
    events: list[tuple[float, int, int, int]] = []  # (time, tie-break, curve, report)
    trials, stall, started = {}, {}, {}
    ticket = 0

    def start(at: float) -> None:
        nonlocal ticket
        i = waiting.pop()
        curve = curves[i]
        trials[i] = ReplayedTrial(curve.trial_id).as_trial()
        stall[i] = plateau.tracker() if plateau else None
        started[i] = at + curve.overhead_s
        scheduler.on_trial_add(NO_CONTROLLER, trials[i])
        heapq.heappush(events, (started[i] + curve.offsets[0], ticket, i, 0))
        ticket += 1

    for _ in range(min(concurrency, len(curves))):
        start(0.0)
    while events:
        now, _, i, k = heapq.heappop(events)
        curve, row = curves[i], curves[i].rows[k]
        # The trainable decides first (its report already says whether the run ended), then Tune asks
        # the scheduler about that report.
        watch = stall[i]
        stalled = watch is not None and watch.stalled(float(row[metric]))
        ended = int(row["step"]) >= int(row["total_steps"]) or stalled
        decision = scheduler.on_trial_result(NO_CONTROLLER, trials[i], row)
        outcome.calls += 1
        fate = COMPLETE if ended else STOP if decision == TrialScheduler.STOP else CONTINUE
        if fate == STOP and curve.trial_id in ranked(scheduler):
            fate = COMPLETE  # ended at the top rung: completed at that budget (sweep.tuning.pasha)
        outcome.decisions.setdefault(curve.trial_id, []).append(fate)
        last = k == len(curve.rows) - 1
        if fate == CONTINUE and not last:
            heapq.heappush(events, (started[i] + curve.offsets[k + 1], ticket, i, k + 1))
            ticket += 1
            continue
        if fate == CONTINUE and curve.fate == "errored":
            scheduler.on_trial_error(NO_CONTROLLER, trials[i])
            status = "errored"
        else:
            scheduler.on_trial_complete(NO_CONTROLLER, trials[i], row)
            status = {COMPLETE: "completed", STOP: "pruned"}.get(fate, CURVE_ENDS)
        if fate == STOP:
            outcome.stopped_at[int(row["training_iteration"])] += 1
        outcome.statuses[curve.trial_id] = status
        outcome.busy_s[curve.trial_id] = now - started[i]
        outcome.wall_s = max(outcome.wall_s, now)
        if waiting:
            start(now)
    outcome.seconds = time.perf_counter() - began
    return outcome


def as_reported(curve: Curve) -> Reported:
    """A recorded trial as a resumed sweep tells it to its scheduler."""
    return Reported(curve.trial_id, curve.rows, errored=curve.fate == "errored")


def decisions_matched(curves: list[Curve], outcome: Outcome) -> tuple[int, int, list[str]]:
    """(matched, total, the first differences in words): each recorded report's decision against the
    replay's; a report the replay never reached counts as a difference."""
    matched = total = 0
    differences: list[str] = []
    for curve in curves:
        seen = outcome.decisions.get(curve.trial_id, [])
        for k, recorded in enumerate(curve.recorded_decisions):
            total += 1
            replayed = seen[k] if k < len(seen) else "not reached"
            if replayed == recorded:
                matched += 1
            elif len(differences) < 10:
                differences.append(f"{curve.trial_id} report {k + 1}: recorded {recorded}, replayed {replayed}")
    return matched, total, differences
