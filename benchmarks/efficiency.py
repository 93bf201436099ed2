"""5. Scheduling efficiency: the share of worker time spent inside training steps or evaluations.

Worker time is the trial slots (trials that run at once) times the sweep's span, from the launch of
``sweep run`` to the last trial's last report. The rest is split into time inside a trial but
outside its steps (imports, model loading, batch data handling, the trainer's set-up) and time
outside any trial (the driver's start-up and Ray start, scheduling gaps, idle slots).
"""

from __future__ import annotations

import pandas as pd

from benchmarks.record import Outcome
from benchmarks.session import Session

TARGET = 0.90


def run(session: Session) -> Outcome:
    sweep = session.recipe_sweep()
    trials = sweep.per_trial()
    span = float(trials["ended_at"].max() - sweep.launched_at)
    worker_s = sweep.slots * span
    steps, evals, inside = trials["step_s"].sum(), trials["eval_s"].sum(), trials["wall_s"].sum()
    parts = {
        "training steps": steps,
        "evaluations": evals,
        "in a trial, outside steps": inside - steps - evals,
        "outside any trial": worker_s - inside,
    }
    table = pd.DataFrame([{"where": where, "seconds": s, "share": s / worker_s} for where, s in parts.items()])
    useful = (steps + evals) / worker_s
    after_start = (steps + evals) / (sweep.slots * sweep.sweep_wall_s())
    return Outcome(
        name="5. scheduling efficiency",
        table=table,
        measured=(
            f"{useful:.1%} of worker time in steps or evaluations ({sweep.slots} slots × {span:.0f} s from launch; "
            f"{after_start:.1%} counted from the first trial's start)"
        ),
        target=f"≥ {TARGET:.0%}",
        met=useful >= TARGET,
        notes=[f"experiment: {sweep.folder}"],
    )
