"""``sweep status DIR``: a running, finished or crashed sweep at a glance, read from its JSON files only
(config.yaml, experiment.json, Ray's experiment state and each trial's result.json; the saved frames once
the sweep finished), never its pickles, so it works on a local folder and on a URI alike.

Which trial is best follows the report's rule (``sweep.store.ranking.standings``): only completed trials
win. Until one has completed, the best evaluation among all trials so far is shown, marked
``provisional`` (it may still be pruned).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict

from sweep.config.objective import PICKABLE
from sweep.monitor.time_left import duration, estimate_left
from sweep.store.folder import META_FILE, TIME_FORMAT, TRIALS_FILE, ExperimentFolder
from sweep.store.frames import params_of
from sweep.store.ranking import FEASIBLE, points, ranked, standings
from sweep.store.records import ExperimentMeta
from sweep.store.tune_state import read_records, state_files
from trainables.errors import InputError
from trainables.metrics import OBJECTIVE

# With no file changed for this long, the driver is taken to have stopped: Ray rewrites its state file
# every 10 s or so while it runs, and uploads it to a URI at least every 5 minutes (its syncer's period).
# A driver stopped by a signal says so in experiment.json, which needs no wait; one killed cannot.
STALE_LOCAL_S = 120.0
STALE_URI_S = 600.0
# A time later than this machine's clock by more than this is no sign of life: the clock that wrote it
# (a shared file system's server, another node) runs ahead, and taking it at its word would show a dead
# sweep as running until this clock caught up (hours, for a server set to the wrong time zone).
FUTURE_TOLERANCE_S = 5.0
LIVE_READ_ATTEMPTS = 5
T = TypeVar("T")
State = Literal["running", "finished", "crashed"]


class _Shown(BaseModel):
    """Part of what `sweep status --json` prints: built here only, so any key or type out of place is a bug."""

    model_config = ConfigDict(extra="forbid", strict=True)


class StatusTrials(_Shown):
    """The planned trials by where they are; they add up to ``total``."""

    total: int
    completed: int
    pruned: int
    errored: int
    running: int
    pending: int  # not started yet
    interrupted: int  # started but cut off by a crash


class StatusBest(_Shown):
    """The report's winner so far, or the best evaluation of any trial while none has completed."""

    trial_id: str
    config: dict[str, Any]
    score: float  # the first objective's value at the chosen evaluation
    scores: dict[str, float]  # every objective's
    step: int
    status: str  # a trial status; running or interrupted for one not finished
    provisional: bool  # no trial has completed yet
    feasible: bool  # under objective.full_depth_margin


class RunningTrial(_Shown):
    trial_id: str
    step: int
    total_steps: int | None
    evaluations: int
    last_score: float | None
    elapsed_s: float | None


class SweepStatus(_Shown):
    """`sweep status`: what ``sweep_status`` returns and ``--json`` prints (``model_dump(mode="json")``)."""

    location: str
    name: str
    state: State
    reported: bool  # report.json written
    delivered: bool | None  # None until the report; then False where no trial was feasible, else True
    trials: StatusTrials
    best: StatusBest | None  # None before any score
    objective: str
    running: list[RunningTrial]
    elapsed_s: float | None
    remaining_s: float | None  # None when unknown
    # Seconds since a file of the sweep last changed; None when every time it left lies in the future.
    last_change_s: float | None
    # How far ahead of this clock the newest such time is; None when none is (see FUTURE_TOLERANCE_S).
    clock_ahead_s: float | None


def sweep_status(location: str, now: float | None = None) -> SweepStatus:
    """The sweep in ``location`` at a glance (``SweepStatus`` and its parts say what each key holds).
    Raises InputError when ``location`` is not an experiment folder."""
    now = time.time() if now is None else now
    experiment = ExperimentFolder(location)
    config = experiment.config()  # InputError: not an experiment folder
    files = experiment.files
    meta = experiment.meta(required=False)
    trials, reports = _read_live(experiment.results)
    finished = experiment.is_swept()
    last_change, ahead = _last_change(experiment, reports, now)
    stale = STALE_LOCAL_S if files.local is not None else STALE_URI_S
    state: State
    if finished:
        state = "finished"
    elif _stopped_since_started(meta) or last_change is None or now - last_change >= stale:
        state = "crashed"
    else:
        state = "running"

    unfinished = trials[trials["status"] == "unfinished"]
    records = [] if finished or unfinished.empty else _read_live(lambda: read_records(files))
    ray_status = {record.trial_id: record.status for record in records}
    # A trial Ray created but has not placed yet (PENDING) has not started: it counts as pending.
    started = [t for t in unfinished.to_dict("records") if ray_status.get(t["trial_id"]) != "PENDING"]
    running = started if state == "running" else []
    counts = {name: int((trials["status"] == name).sum()) for name in ("completed", "pruned", "errored")}
    total = max(config.search.num_samples, len(trials))
    interrupted = len(started) if state == "crashed" else 0
    pending = max(total - sum(counts.values()) - len(running) - interrupted, 0)

    running_list = [_running_entry(trial, reports, now) for trial in running]
    started_at = _created(meta) or last_change or now
    ended_at = now if state == "running" else (files.modified(TRIALS_FILE) if finished else last_change)
    done_s = [float(s) for s in trials.loc[trials["status"].isin(list(counts)), "time_s"] if math.isfinite(s)]
    if state == "running":
        ran = [entry.elapsed_s or 0.0 for entry in running_list]
        remaining = estimate_left(pending, done_s, ran, config.search.max_concurrent)
    else:
        remaining = 0.0 if finished else None
    return SweepStatus(
        location=experiment.location,
        name=config.name,
        state=state,
        reported=experiment.is_reported(),
        delivered=_delivered(experiment),
        trials=StatusTrials(total=total, **counts, running=len(running), pending=pending, interrupted=interrupted),
        best=_best(trials, reports, config, unfinished="running" if state == "running" else "interrupted"),
        objective=config.objective.describe(),
        running=running_list,
        elapsed_s=_seconds(max((ended_at or now) - started_at, 0.0)),
        remaining_s=_seconds(remaining),
        last_change_s=_seconds(max(now - last_change, 0.0)) if last_change is not None else None,
        clock_ahead_s=_seconds(ahead),
    )


def status_lines(status: SweepStatus) -> list[str]:
    """``sweep_status`` for people, a few lines."""
    trials, best = status.trials, status.best
    state = status.state
    when = f"{duration(status.elapsed_s)} elapsed"
    if state == "running":
        left = status.remaining_s
        when += f", about {duration(left)} left" if left is not None else ", time left known once a trial ends"
    elif state == "crashed":
        skew = ""
        if status.clock_ahead_s:
            skew = (
                f" (some of its files are dated {duration(status.clock_ahead_s)} ahead of this clock, so "
                "they were not counted: make sure no driver still runs it)"
            )
        quiet = status.last_change_s
        since = f"nothing changed for {duration(quiet)}" if quiet is not None else "no change dated before now"
        when += f"; {since}{skew}: `sweep resume {status.location}` finishes it"
    elif not status.reported:
        when += "; retrain and report not written yet"
    lines = [
        f"experiment: {status.location}",
        f"state: {state} sweep, {when}",
        f"trials: {trials.total} planned: "
        + ", ".join(
            f"{count} {key}"
            for key, count in trials.model_dump().items()
            if key != "total" and (key != "interrupted" or count)
        ),
    ]
    if status.delivered is False:
        lines.append(
            "delivered: nothing, as no trial was feasible under objective.full_depth_margin (no best_model/); "
            "report.md gives the reference defaults and the untrained model"
        )
    if best is None:
        lines.append("best: no score yet")
    else:
        note = " (provisional: no trial has completed yet)" if best.provisional else ""
        if not best.feasible:
            note += " (not feasible: below objective.full_depth_margin at full depth, as every trial so far)"
        lines.append(
            f"best: trial {best.trial_id} ({best.status}), {status.objective} "
            f"{' / '.join(f'{v:.4f}' for v in best.scores.values())} at step {best.step}{note}"
        )
        lines.append(f"  config: {json.dumps(best.config)}")
    for entry in status.running:
        if not entry.evaluations:
            lines.append(f"running: trial {entry.trial_id}, no evaluation yet")
            continue
        score = f", last {entry.last_score:.4f}" if entry.last_score is not None else ""
        ran = f", {duration(entry.elapsed_s)}" if entry.elapsed_s is not None else ""
        lines.append(f"running: trial {entry.trial_id} at step {entry.step}/{entry.total_steps}{score}{ran}")
    return lines


def _delivered(experiment: ExperimentFolder) -> bool | None:
    """Whether the written report delivers a model: None before the report (or where it cannot be read:
    `sweep report DIR` says why), False where it says no trial was feasible."""
    if not experiment.is_reported():
        return None
    try:
        return not experiment.report().get("no_feasible")
    except InputError:
        return None


def _best(trials: pd.DataFrame, reports: pd.DataFrame, config: Any, unfinished: str) -> StatusBest | None:
    """The report's winner so far; else (none completed yet) the best evaluation of any trial that has not
    errored, marked provisional (its status ``unfinished``: running, or interrupted by a crash). Under
    ``objective.full_depth_margin`` it says whether that trial is feasible."""
    objective = config.objective
    ranking = standings(trials, reports, objective, config.reference)
    provisional = ranking.empty
    if provisional:
        # The same points and order, with every unerrored trial let in as if it were pickable.
        hopefuls = trials[trials["status"] != "errored"].assign(status=PICKABLE[0])
        ranking = ranked(points(hopefuls, reports, objective, config.reference), objective)
        if ranking.empty:
            return None
    row = ranking.iloc[0]
    status = trials.loc[trials["trial_id"] == row["trial_id"], "status"].iloc[0]
    scores = {metric: float(row[metric]) for metric in objective.metrics}
    return StatusBest(
        trial_id=str(row["trial_id"]),
        config=params_of(row),
        score=scores[objective.metrics[0]],
        scores=scores,
        step=int(row["chosen_step"]),
        status=unfinished if status == "unfinished" else str(status),
        provisional=provisional,
        feasible=bool(row[FEASIBLE]),
    )


def _read_live(read: Callable[[], T]) -> T:
    """``read()``, again after a moment if it met a damaged file: Ray rewrites its state file in place
    while a sweep runs, so a reader can catch it half-written."""
    for _ in range(LIVE_READ_ATTEMPTS - 1):
        try:
            return read()
        except InputError:
            time.sleep(0.5)
    return read()


def _running_entry(trial: dict[str, Any], reports: pd.DataFrame, now: float) -> RunningTrial:
    rows = reports[reports["trial_id"] == trial["trial_id"]]
    last = rows.iloc[-1] if not rows.empty else None
    started = last["run_started_at"] if last is not None else float("nan")
    score = last[OBJECTIVE] if last is not None else float("nan")
    return RunningTrial(
        trial_id=trial["trial_id"],
        step=int(last["step"]) if last is not None else 0,
        total_steps=int(last["total_steps"]) if last is not None else None,
        evaluations=len(rows),
        last_score=float(score) if math.isfinite(score) else None,
        elapsed_s=_seconds(now - started) if math.isfinite(started) else None,
    )


def _last_change(experiment: ExperimentFolder, reports: pd.DataFrame, now: float) -> tuple[float | None, float | None]:
    """When the sweep last showed a sign of life (its newest state file or report, or its creation), and
    by how much the newest time it left lies in the future of ``now`` (None if none does): such times
    are left out."""
    files = experiment.files
    names = files.names()
    times = [files.modified(name) for name in [*state_files(files, names), META_FILE] if name in names]
    if not reports.empty:
        times.append(float(reports["reported_at"].max()))
    known = [t for t in times if t is not None and math.isfinite(t)]
    past = [t for t in known if t <= now + FUTURE_TOLERANCE_S]
    ahead = max(known) - now if len(past) < len(known) else None
    return (max(past) if past else None), ahead


def _created(meta: ExperimentMeta | None) -> float | None:
    return _timestamp(meta.created) if meta is not None else None


def _stopped_since_started(meta: ExperimentMeta | None) -> bool:
    """Whether the driver recorded a stop signal (``stopped``) after the run or resume that last started."""
    if meta is None:
        return False
    stopped = _times(meta.stopped)
    started = _times(meta.created) + _times(meta.resumed)
    # The same second for both can only be a stop right after the start: a resume first starts Ray.
    return bool(stopped) and max(stopped) >= max(started, default=float("-inf"))


def _times(value: Any) -> list[float]:
    """The readable times of one entry of experiment.json or of a list of them; a damaged entry gives none."""
    values = value if isinstance(value, list) else [value]
    return [t for t in map(_timestamp, values) if t is not None]


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.strptime(value, TIME_FORMAT).timestamp()
    except (TypeError, ValueError):
        return None


def _seconds(value: float | None) -> float | None:
    return round(float(value), 1) if value is not None and math.isfinite(value) else None
