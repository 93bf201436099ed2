"""2. Time to first step: from a trial's start to the start of its first optimizer step, over its wall time.

Trial start is the trainable's entry in its worker, before the worker imports the training stack,
so a cold worker's imports count. The cold figure starts earlier still: at the launch of
``sweep run`` (imports, data loading and Ray start included), to the first trial's first step.
"""

from __future__ import annotations

import pandas as pd

from benchmarks.record import Outcome
from benchmarks.session import Session

TARGET = 0.05


def run(session: Session) -> Outcome:
    sweep = session.recipe_sweep()
    trials = sweep.per_trial()
    table = trials[["trial_index", "status", "steps", "wall_s", "to_first_step_s"]].copy()
    table["share"] = table["to_first_step_s"] / table["wall_s"]
    per_trial_share = float(trials["to_first_step_s"].sum() / trials["wall_s"].sum())
    first = trials.iloc[0]  # the earliest trial to start
    cold_to_first = float(first["first_step_at"] - sweep.launched_at)
    cold_share = cold_to_first / float(first["ended_at"] - sweep.launched_at)
    cold = pd.DataFrame(
        [
            {
                "trial_index": f"cold {int(first['trial_index'])}",
                "status": first["status"],
                "steps": first["steps"],
                "wall_s": float(first["ended_at"] - sweep.launched_at),
                "to_first_step_s": cold_to_first,
                "share": cold_share,
            }
        ]
    )
    return Outcome(
        name="2. time to first step",
        table=pd.concat([table, cold], ignore_index=True),
        measured=(
            f"trials: {per_trial_share:.1%} of trial time before the first step "
            f"(all trials, summed; worst trial {table['share'].max():.1%}); "
            f"cold `sweep run`: {cold_to_first:.0f} s = {cold_share:.1%} of the first trial's time from launch"
        ),
        target=f"≤ {TARGET:.0%}",
        met=per_trial_share <= TARGET and cold_share <= TARGET,
        notes=[f"experiment: {sweep.folder}"],
    )
