"""Where a training run's wall time goes: inside optimizer steps, inside evaluations, or elsewhere.

Every report row carries these figures, so a sweep's own results say how much of a worker's time went
into work that matters (start-up, data handling and scheduling are the rest). Times are wall-clock
``time.time()`` values, comparable across the processes of one machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from transformers import TrainerCallback

from trainables.metrics import TIMING_COLUMNS


class StepClock(TrainerCallback):
    """Adds up the time inside optimizer steps (forward, backward, optimizer) and inside evaluations.

    A step is timed from the Trainer's ``on_step_begin`` to its ``on_step_end``, so fetching and
    tokenising the batch, which happens before ``on_step_begin``, counts as outside the step.
    """

    def __init__(self, started_at: float | None = None):
        self.started_at = time.time() if started_at is None else started_at  # the run's start
        self.first_step_at: float | None = None  # start of the first optimizer step: training begins
        self.last_step_at: float | None = None  # end of the latest one
        self.step_s = 0.0
        self.eval_s = 0.0
        self._step_began: float | None = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._step_began = time.time()
        if self.first_step_at is None:
            self.first_step_at = self._step_began

    def on_step_end(self, args, state, control, **kwargs):
        now = time.time()
        if self._step_began is not None:
            self.step_s += now - self._step_began
            self._step_began = None
        self.last_step_at = now

    @contextmanager
    def evaluating(self) -> Iterator[None]:
        """Time an evaluation: ``with clock.evaluating(): ...``."""
        began = time.time()
        try:
            yield
        finally:
            self.eval_s += time.time() - began

    def figures(self) -> dict[str, float]:
        """The timing columns of a report row, as of now."""
        first, last = (float("nan") if at is None else at for at in (self.first_step_at, self.last_step_at))
        values = (self.started_at, first, last, time.time(), self.step_s, self.eval_s)
        return dict(zip(TIMING_COLUMNS, values, strict=True))
