"""`sweep simulate`: a recorded sweep replayed in virtual time under another scheduler or objective."""

from __future__ import annotations

from sweep.lazy import exports

# The names other packages use, and the module each lives in.
_PUBLIC = {
    "Curve": "replay",
    "bootstrap": "replay",
    "replay": "replay",
    "Recorded": "summary",
    "read_recorded": "summary",
    "simulate_experiment": "summary",
}
__all__, __getattr__ = exports(__name__, _PUBLIC)
