"""Early stopping of a run whose STS-dev has stopped improving, judged on its own reports.

ASHA stops a trial that is worse than the others at a rung; it cannot stop one that is past its peak.
A sweep ranks every trial by its best report, so once a run has peaked its remaining steps cannot
change its rank, only cost time. A recipe whose runs peak early and then decline sets
``scheduler.patience``, and each trial then ends itself as its score stops rising.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Plateau:
    """Stop after ``patience`` STS-dev evaluations in a row that do not beat the run's best ``metric``."""

    metric: str
    patience: int

    def tracker(self) -> PlateauTracker:
        """A fresh count for one run."""
        return PlateauTracker(self.patience, self.metric)


class PlateauTracker:
    """Counts the evaluations since the run's last new best of ``metric``."""

    def __init__(self, patience: int, metric: str):
        self.patience, self.metric = patience, metric
        self.best = -math.inf
        self.since_best = 0

    def stalled(self, score: float) -> bool:
        """Record one evaluation's score; whether the run has now gone ``patience`` evaluations without a new best.

        An equal score is no improvement, and neither is a non-finite one.
        """
        if math.isfinite(score) and score > self.best:
            self.best, self.since_best = score, 0
        else:
            self.since_best += 1
        return self.since_best >= self.patience
