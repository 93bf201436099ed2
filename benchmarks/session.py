"""What the benchmarks of one invocation share: the mode, and the one full `sweep run` several read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.recipe import overrides, recipe
from benchmarks.sweeps import SweepRun, cold_sweep, finished_sweep


@dataclass
class Session:
    """``quick`` shrinks every benchmark; ``recipe_sweep`` runs at most once per invocation, or is read from
    ``experiment``, a finished `sweep run` of a recipe (``--experiment DIR``)."""

    quick: bool
    experiment: Path | None = None
    _recipe_sweep: SweepRun | None = field(default=None, repr=False)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def recipe_sweep(self) -> SweepRun:
        """The benchmark recipe end to end (`sweep run`, ASHA, retrain with every seed), run once and shared.

        Time to first step, pruning, scheduling efficiency and the end-to-end comparison all read it,
        so their figures describe the same run.
        """
        if self._recipe_sweep is None and self.experiment is not None:
            self._recipe_sweep = finished_sweep(self.experiment)
        if self._recipe_sweep is None:
            self._recipe_sweep = cold_sweep(recipe(self.quick), overrides(self.quick), f"recipe-{self.mode}")
        return self._recipe_sweep
