"""4. Pruning pays: the same Optuna search with ASHA and without pruning, same trials and seed.

The ASHA arm is the shared recipe sweep; the other arm runs the same recipe with ``scheduler.type:
none`` (sweep phase only). Wall time is the sweep phase of each: first trial start to last report.
"""

from __future__ import annotations

import pandas as pd

from benchmarks.recipe import recipe
from benchmarks.record import Outcome
from benchmarks.session import Session
from benchmarks.sweeps import SweepRun, sweep_phase

STEP_TARGET = 0.40
BEST_TOLERANCE = 0.005


def _row(arm: str, sweep: SweepRun) -> dict:
    counts = sweep.trials["status"].value_counts()
    return {
        "arm": arm,
        "trials": len(sweep.trials),
        "completed": int(counts.get("completed", 0)),
        "pruned": int(counts.get("pruned", 0)),
        "steps": sweep.total_steps,
        "wall_s": sweep.sweep_wall_s(),
        "best_sts_dev": sweep.best_sts_dev,
    }


def run(session: Session) -> Outcome:
    asha = session.recipe_sweep()
    unpruned = sweep_phase(recipe(session.quick, "scheduler.type=none"), f"no-pruning-{session.mode}")
    table = pd.DataFrame([_row("ASHA", asha), _row("no pruning", unpruned)])
    steps = asha.total_steps / unpruned.total_steps
    wall = asha.sweep_wall_s() / unpruned.sweep_wall_s()
    gap = unpruned.best_sts_dev - asha.best_sts_dev
    return Outcome(
        name="4. pruning pays",
        table=table,
        measured=(
            f"ASHA used {steps:.0%} of the steps and {wall:.0%} of the wall time; "
            f"best STS-dev {asha.best_sts_dev:.4f} vs {unpruned.best_sts_dev:.4f} without pruning (gap {gap:+.4f})"
        ),
        target=f"≤ {STEP_TARGET:.0%} of the steps, best within {BEST_TOLERANCE}",
        met=steps <= STEP_TARGET and gap <= BEST_TOLERANCE,
        notes=[f"ASHA experiment: {asha.folder}", f"no-pruning experiment: {unpruned.folder}"],
    )
