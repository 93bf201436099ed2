"""Watching a sweep: the lines a run prints, trials that stall, and `sweep status`."""

from __future__ import annotations

from sweep.lazy import exports

# The names other packages use, and the module each lives in.
_PUBLIC = {
    "OutputOptions": "progress",
    "SweepProgress": "progress",
    "quiet_ray": "progress",
    "StallWatch": "stall",
    "record_stalled": "stall",
    "status_lines": "status",
    "sweep_status": "status",
    "say": "stdout",
    "tell": "stdout",
}
__all__, __getattr__ = exports(__name__, _PUBLIC)
