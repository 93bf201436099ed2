"""A run held after an evaluation, for as long as a file exists: how the fault tests land a kill mid-run.

A test that kills a trial's worker, its node or the driver while a run trains needs the run to be
mid-run when the kill comes. Training for more epochs only makes that likely, at the cost of every
step; holding the run makes it certain at no cost. ``SWEEP_TEST_HOLD=DIR`` (a folder on the machine
that runs the run) holds every trial run after each STS-dev evaluation while ``DIR/trial`` exists, and
every retrain run while ``DIR/retrain`` exists; the evaluation has been reported by then, so the driver
sees it. Unset, which is how every user runs, nothing waits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HOLD_ENV = "SWEEP_TEST_HOLD"
TRIAL, RETRAIN = "trial", "retrain"
POLL_S = 0.1

Report = Callable[[dict[str, Any]], None]


def held(report: Report | None, kind: str) -> Report | None:
    """``report``, followed by a wait while ``$SWEEP_TEST_HOLD/<kind>`` exists; ``report`` itself when unset."""
    folder = os.environ.get(HOLD_ENV)
    if not folder:
        return report
    gate = Path(folder) / kind

    def report_then_hold(row: dict[str, Any]) -> None:
        if report is not None:
            report(row)
        while gate.exists():
            time.sleep(POLL_S)

    return report_then_hold
