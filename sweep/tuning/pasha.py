"""PASHA: ASHA whose top rung grows only while the ranking near the top is still changing.

Bohdal, Balles, Wistuba, Ermis, Archambeau and Zappella, "PASHA: Efficient HPO and NAS with Progressive
Resource Allocation", ICLR 2023 (https://openreview.net/forum?id=syfgJE6nFRW). A sweep here exists to rank
configs, not to train one to its full budget: the winner is retrained afterwards. PASHA starts with a small
maximum budget, the second rung, and raises it to the next rung only when the trials that reached the
current top rung are ranked there differently from the rung below. Once the two agree, training further
would not change which config wins, so no trial is trained further.

The paper's PASHA pauses trials and resumes them from checkpoints when the budget grows; this sweep writes
no checkpoints, so here it stops them, as ASHA does:

- below the current top rung, a trial is stopped where ASHA would stop it (outside the top
  1/``reduction_factor`` of the trials recorded at that rung before it);
- a trial that reaches the current top rung is *ranked*: it ends there and counts as completed, at that
  budget (``ranked`` maps it to the evaluation it ended at; the sweep marks that report completed);
- each time the top rung gains a trial, the trials in it are ranked by their score there and by their score
  at the rung below. The ranking is *soft*: at the rung below, trials within ``epsilon`` of each other are one
  group, and the budget grows when a trial's place at the top falls outside the group of that place below.
  ``epsilon`` is measured, as the paper does: over the evaluations between the two rungs, the pairs of
  trials whose order flipped and flipped back, and the 90th percentile of their distance (0 until a pair has).

Completed therefore means "ran its budget, or ended itself on patience, or was ranked at PASHA's top rung
at the time": the trials are ranked by their best report either way. Only the scheduler's public interface
(``on_trial_add``, ``on_trial_result``, ``on_trial_complete``) is used, so the sweep and ``sweep simulate``
drive the same object.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

NOISE_PERCENTILE = 90  # the paper's choice for epsilon


def rung_levels(max_t: int, grace_period: int, reduction_factor: float) -> list[int]:
    """The evaluations at which trials are judged, then the full budget: where Ray's ASHA places its rungs
    (grace_period × rf**k below max_t), each as the evaluation that reaches it, so that rungs one report
    cannot tell apart count once (a reduction factor near 1 makes millions of them)."""
    levels: list[int] = []
    k = 0
    while (level := grace_period * reduction_factor**k) < max_t:
        reach = math.ceil(level)
        if not levels or reach > levels[-1]:
            levels.append(reach)
        # the first k whose level lies beyond this evaluation
        k = max(k + 1, math.floor(math.log(reach / grace_period) / math.log(reduction_factor)) + 1)
    return levels if levels and levels[-1] == max_t else [*levels, max_t]  # a last rung may round up to it


class Pasha(FIFOScheduler):
    """Progressive ASHA without checkpoints (see the module docstring)."""

    def __init__(self, metric: str, mode: str, max_t: int, grace_period: int, reduction_factor: float):
        super().__init__()
        self.judged, self.sign = metric, 1.0 if mode == "max" else -1.0  # FIFOScheduler owns `metric`
        self.time_attr = "training_iteration"
        self.levels = rung_levels(max_t, grace_period, reduction_factor)
        self.reduction_factor = reduction_factor
        self.top = min(1, len(self.levels) - 1)  # index of the current top rung: the second rung at first
        self.rungs: list[dict[str, float]] = [{} for _ in self.levels]  # per rung: trial -> score there
        self.history: dict[str, dict[int, float]] = {}  # per trial: evaluation -> score
        self.epsilon = 0.0
        self.ranked: dict[str, int] = {}  # trials ended at the top rung -> the evaluation they ended at

    @property
    def budget(self) -> int:
        """The current maximum evaluations a trial gets."""
        return self.levels[self.top]

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        if self.judged not in result or self.time_attr not in result:
            return TrialScheduler.CONTINUE
        at, score = int(result[self.time_attr]), self.sign * float(result[self.judged])
        self.history.setdefault(trial.trial_id, {})[at] = score
        rung = self._rung_reached(trial.trial_id, at)
        if rung is None:
            return TrialScheduler.CONTINUE
        cutoff = self._cutoff(self.rungs[rung])
        self.rungs[rung][trial.trial_id] = score
        if rung < self.top:
            return TrialScheduler.STOP if cutoff is not None and score < cutoff else TrialScheduler.CONTINUE
        if rung == len(self.levels) - 1:
            return TrialScheduler.CONTINUE  # the full budget: the trial ends on its own
        self.ranked[trial.trial_id] = at
        self._grow_if_ranking_changed()
        return TrialScheduler.STOP

    def _rung_reached(self, trial_id: str, at: int) -> int | None:
        """The highest rung up to the current top that ``at`` reaches and the trial has no score at yet."""
        for rung in range(self.top, -1, -1):
            if at >= self.levels[rung]:
                return None if trial_id in self.rungs[rung] else rung
        return None

    def _cutoff(self, recorded: dict[str, float]) -> float | None:
        """ASHA's: the score a trial needs to be in the top 1/reduction_factor of those recorded before it."""
        if not recorded:
            return None
        return float(np.nanpercentile(list(recorded.values()), (1 - 1 / self.reduction_factor) * 100))

    def _grow_if_ranking_changed(self) -> None:
        top, below = self.rungs[self.top], self.rungs[self.top - 1]
        here = sorted((t for t in top if t in below), key=lambda t: -top[t])  # a trial may skip a rung
        before = sorted(here, key=lambda t: -below[t])
        noise = self._noise()
        self.epsilon = self.epsilon if noise is None else noise  # kept where no pair flipped back
        epsilon = self.epsilon if len(before) >= 2 else 0.0
        for place, trial_id in enumerate(here):
            anchor = below[before[place]]
            group = {t for t in before if abs(below[t] - anchor) <= epsilon}
            if trial_id not in group:
                self.top += 1
                return

    def _noise(self) -> float | None:
        """The 90th percentile of the distance between two trials whose order flipped and flipped back, at
        the evaluations between the two top rungs; None where no pair has."""
        low, high = self.levels[self.top - 1], self.levels[self.top]
        distances = []
        for at in range(high, low, -1):
            present = sorted(t for t, scores in self.history.items() if at in scores)
            for a, b in combinations(present, 2):
                now = self.history[a][at] > self.history[b][at]
                flipped = False
                for earlier in range(at - 1, 0, -1):
                    if earlier not in self.history[a] or earlier not in self.history[b]:
                        break
                    order = self.history[a][earlier] > self.history[b][earlier]
                    if order != now:
                        flipped = True
                    elif flipped:
                        distances.append(abs(self.history[a][at] - self.history[b][at]))
                        break
        return float(np.percentile(distances, NOISE_PERCENTILE)) if distances else None

    def debug_string(self) -> str:
        return f"PASHA: top rung {self.budget:g} evaluations, {len(self.ranked)} ranked, epsilon {self.epsilon:.4f}"
