"""4. Pruning pays: the same Optuna search with early stopping and without, same trials and seed.

The early-stopping arm is the shared recipe sweep: ASHA, and each trial ending itself once its STS-dev
stops improving (``scheduler.patience``). The other arm runs the same recipe with neither (sweep phase
only). Wall time is the sweep phase of each: first trial start to last report.
"""

from __future__ import annotations

import pandas as pd

from benchmarks.recipe import NO_EARLY_STOPPING, recipe
from benchmarks.record import Outcome
from benchmarks.session import Session
from benchmarks.sweeps import SweepRun, sweep_phase

STEP_TARGET = 0.40
BEST_TOLERANCE = 0.005


def _row(arm: str, sweep: SweepRun) -> dict:
    trials = sweep.trials
    counts = trials["status"].value_counts()
    ended_itself = (trials["status"] == "completed") & (trials["steps"] < trials["total_steps"])
    return {
        "arm": arm,
        "trials": len(trials),
        "completed": int(counts.get("completed", 0)),
        "ended itself": int(ended_itself.sum()),  # completed on scheduler.patience, before its last step
        "pruned": int(counts.get("pruned", 0)),
        "steps": sweep.total_steps,
        "wall_s": sweep.sweep_wall_s(),
        "best_sts_dev": sweep.best_sts_dev,
    }


def run(session: Session) -> Outcome:
    stopping = session.recipe_sweep()
    unpruned = sweep_phase(recipe(session.quick, *NO_EARLY_STOPPING), f"no-pruning-{session.mode}")
    patience = stopping.report["scheduler"]["patience"] if stopping.report else None  # what the sweep ran with
    arm = f"ASHA, patience {patience}" if patience else "ASHA"
    table = pd.DataFrame([_row(arm, stopping), _row("no early stopping", unpruned)])
    steps = stopping.total_steps / unpruned.total_steps
    wall = stopping.sweep_wall_s() / unpruned.sweep_wall_s()
    gap = unpruned.best_sts_dev - stopping.best_sts_dev
    return Outcome(
        name="4. pruning pays",
        table=table,
        measured=(
            f"{arm} used {steps:.0%} of the steps and {wall:.0%} of the wall time; best STS-dev "
            f"{stopping.best_sts_dev:.4f} vs {unpruned.best_sts_dev:.4f} without early stopping (gap {gap:+.4f})"
        ),
        target=f"≤ {STEP_TARGET:.0%} of the steps, best within {BEST_TOLERANCE}",
        met=steps <= STEP_TARGET and gap <= BEST_TOLERANCE,
        notes=[f"early-stopping experiment: {stopping.folder}", f"no-early-stopping experiment: {unpruned.folder}"],
    )
