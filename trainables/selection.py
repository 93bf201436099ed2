"""Which evaluation of a run is its best: the one rule that ranks a trial's reports, picks the winning
trial, places a trial on a Pareto front, and chooses the step whose weights a retrain delivers.

A run is worth the model it had at one evaluation, so everything that judges a run judges one row at a
time: with two objectives both values come from the same row, never each objective's best from a
different step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class Selection:
    """Ranks one run's evaluation rows by ``metrics``.

    With ``average`` the rows are ranked by the mean of the metrics (ties: by each metric in order);
    otherwise by the first metric, ties broken by the next. Of equal rows the earliest counts: a later
    evaluation must beat the best so far to replace it. A row with a missing or non-finite value of
    any metric never counts.
    """

    metrics: tuple[str, ...]
    average: bool = False

    def key(self, row: Mapping[str, Any]) -> tuple[float, ...] | None:
        """The row's rank as a tuple (larger is better), or None when it cannot be ranked."""
        given = [row.get(metric) for metric in self.metrics]
        values = [float(v) for v in given if isinstance(v, numbers.Real) and not isinstance(v, bool)]
        if len(values) != len(given) or not all(map(math.isfinite, values)):
            return None
        return (sum(values) / len(values), *values) if self.average else tuple(values)

    def better(self, row: Mapping[str, Any], than: Mapping[str, Any] | None) -> bool:
        """Whether ``row`` beats ``than`` (None: nothing yet, so any rankable row does)."""
        key = self.key(row)
        if key is None:
            return False
        best = self.key(than) if than is not None else None
        return best is None or key > best

    def choose(self, rows: Sequence[Mapping[str, Any]]) -> int | None:
        """Index of the best row of one run (in report order), or None when no row can be ranked."""
        chosen: int | None = None
        for index, row in enumerate(rows):
            if self.better(row, rows[chosen] if chosen is not None else None):
                chosen = index
        return chosen


class BestWeights:
    """The weights of a run's best evaluation so far by ``selection``, and that evaluation's row.

    One copy at a time, on the CPU: a later evaluation that beats it replaces it, so a run never holds
    more than its live model and this copy, and writes nothing to disk.
    """

    def __init__(self, selection: Selection):
        self.selection = selection
        self.row: dict[str, Any] | None = None
        self._state: dict[str, Any] | None = None

    def offer(self, model: nn.Module, row: dict[str, Any]) -> None:
        """Keep ``model``'s weights if ``row`` (its evaluation just now) beats the kept one."""
        if self.selection.better(row, self.row):
            self.row = row
            self._state = {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}

    def restore(self, model: nn.Module) -> None:
        """Load the kept weights into ``model`` (the same architecture they were taken from)."""
        if self._state is None:
            raise ValueError("no evaluation has been kept")
        model.load_state_dict(self._state)
