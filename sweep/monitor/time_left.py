"""How long a sweep has left, from the trials it has finished: one estimate for the live progress lines
(``sweep.monitor.progress``) and for ``sweep status`` (``sweep.monitor.status``)."""

from __future__ import annotations

from collections.abc import Sequence


def estimate_left(
    to_start: int, finished_s: Sequence[float], running_s: Sequence[float], concurrency: int
) -> float | None:
    """Seconds until the last trial ends, with ``to_start`` trials not started yet, the finished ones
    having taken ``finished_s`` and the running ones having run ``running_s``; None until a trial has
    finished.

    Assumes what the finished trials show: every trial still to run takes their mean time (so pruned and
    completed trials keep the mix they had so far), a running trial has that mean minus what it has run
    (at least nothing), and ``concurrency`` trials run at once until the end (``search.max_concurrent``,
    which the cluster was checked to fit). Ray's start-up of a trial counts in its time, the driver's
    gaps between trials do not.
    """
    if not finished_s:
        return None
    mean = sum(finished_s) / len(finished_s)
    work = max(to_start, 0) * mean + sum(max(mean - ran, 0.0) for ran in running_s)
    return work / max(concurrency, 1)


def duration(seconds: float | None) -> str:
    """``seconds`` for people: ``42 s``, ``3 min 5 s``, ``2 h 10 min``."""
    if seconds is None:
        return "unknown"
    seconds = round(max(seconds, 0.0))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
