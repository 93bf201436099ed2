"""Experiment tracking: TensorBoard, MLflow and W&B, for the trials and for the retrain and the report."""

from __future__ import annotations

from sweep.lazy import exports

# The names other packages use, and the module each lives in.
_PUBLIC = {
    "check_stored_uri": "backends",
    "check_tracking": "backends",
    "tune_callbacks": "backends",
    "Tracker": "tracker",
}
__all__, __getattr__ = exports(__name__, _PUBLIC)
