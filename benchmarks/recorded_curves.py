"""The learning curves of a recorded sweep (``tests/data/simulate_*``), as the replaying benchmarks use them:
one list of report rows per trial, each row's metrics as plain values and the seconds it took."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks.recipe import ROOT
from sweep.store.folder import ExperimentFolder
from sweep.store.frames import report_columns
from trainables.metrics import FAILURE, TIMING_COLUMNS

RECORDING = ROOT / "tests" / "data" / "simulate_smoke"
# Ray's figure and the run's own bookkeeping, not a curve's metrics.
_NOT_REPLAYED = {"trial_index", "trial_id", "training_iteration", FAILURE, *TIMING_COLUMNS}
_NOT_REPLAYED |= {"time_total_s", "time_this_iter_s", "timestamp"}


def load_curves(recording: Path = RECORDING) -> list[list[dict]]:
    """The recorded trials' report rows, one list per trial in creation order: each row's metrics as
    plain values, and ``seconds``, what the row took (its ``time_this_iter_s``)."""
    folder = ExperimentFolder(recording)
    n_layers = folder.meta().n_layers
    reports = folder.saved_results()[1].sort_values(["trial_index", "training_iteration"])
    columns = [c for c in report_columns(n_layers) if c not in _NOT_REPLAYED and c in reports]
    curves = []
    for _, rows in reports.groupby("trial_index", sort=True):
        curve = []
        for row in rows.to_dict("records"):
            metrics = {c: _plain(row[c]) for c in columns if not _missing(row[c])}
            curve.append({**metrics, "seconds": float(row["time_this_iter_s"])})
        curves.append(curve)
    return curves


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
