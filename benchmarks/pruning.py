"""4. Pruning pays: the same Optuna search with early stopping and without, same trials and seed.

The early-stopping arm is the shared recipe sweep: ASHA, and each trial ending itself once its STS-dev
stops improving (``scheduler.patience``). The other arm runs the same recipe with neither. Wall time is
the sweep phase of each: first trial start to last report. Both arms are judged on what a user gets,
the delivered model: the winner of each arm retrained with the same seeds (each retrain keeping its best
STS-dev evaluation), compared on STS-test at every depth with the report's paired verdict. Where both
arms pick the same config the delivered models are the same (CPU runs are deterministic), so the
second arm's retrain is skipped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.recipe import NO_EARLY_STOPPING, recipe
from benchmarks.record import Outcome
from benchmarks.session import Session
from benchmarks.sweeps import SweepRun, sweep_phase

STEP_TARGET = 0.40


def _row(arm: str, sweep: SweepRun, best_score: float) -> dict:
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
        "best objective (STS-dev)": best_score,
    }


def _delivered(config, sweep: SweepRun, same_as: dict | None) -> tuple[dict, np.ndarray | None]:
    """The arm's winner and its retrained STS-test similarities (seeds, depths, pairs); None where it is
    ``same_as``, the other arm's winner, whose delivered models it shares."""
    from sweep.config.search_space import trial_params
    from sweep.store.frames import params_of
    from sweep.store.ranking import select_best
    from sweep.store.similarities import similarity_arrays
    from sweep.workflow.commands import prepare
    from sweep.workflow.retrain import retrain

    best = params_of(select_best(sweep.trials, sweep.reports, config.objective))
    if best == same_as:
        return best, None
    only_best = config.model_copy(update={"retrain": config.retrain.model_copy(update={"arms": ["best", "untrained"]})})
    prepared = prepare(only_best)
    default = trial_params(prepared.config.space, prepared.config.reference)
    retrained = retrain(prepared.config, prepared.data, prepared.sts_test, best, default)
    return best, similarity_arrays(retrained.similarities, "best", prepared.config.retrain_seeds)


def run(session: Session) -> Outcome:
    from sweep.report.verdict import compare
    from sweep.store.folder import ExperimentFolder
    from sweep.store.ranking import select_best
    from sweep.store.similarities import gold_scores, similarity_arrays

    stopping = session.recipe_sweep()
    config = recipe(session.quick, *NO_EARLY_STOPPING)
    unpruned = sweep_phase(config, f"no-pruning-{session.mode}")
    patience = stopping.report["scheduler"]["patience"] if stopping.report else None  # what the sweep ran with
    arm = f"ASHA, patience {patience}" if patience else "ASHA"
    metric = config.objective.metrics[0]
    best_stopping = float(select_best(stopping.trials, stopping.reports, config.objective)[metric])
    best_unpruned = float(select_best(unpruned.trials, unpruned.reports, config.objective)[metric])
    table = pd.DataFrame([_row(arm, stopping, best_stopping), _row("no early stopping", unpruned, best_unpruned)])
    steps = stopping.total_steps / unpruned.total_steps
    wall = stopping.sweep_wall_s() / unpruned.sweep_wall_s()

    frame = ExperimentFolder(stopping.folder).retrained().similarities
    report = stopping.finished_report()
    seeds = report["seeds"]["retrain"]
    winner, others = _delivered(config, unpruned, report["best"]["config"])
    if others is None:
        delivered = "both arms pick the same config, so they deliver the same models"
        worse = False
    else:
        ours = similarity_arrays(frame, "best", seeds)
        gold = gold_scores(frame)
        verdicts = [compare(gold, ours[:, d], others[:, d]) for d in range(ours.shape[1])]
        delivered = "delivered STS-test, early stopping − none: " + "; ".join(
            f"depth {d + 1} {v['text']}" for d, v in enumerate(verdicts)
        )
        worse = any(v["says"] == "worse" for v in verdicts)
    return Outcome(
        name="4. pruning pays",
        table=table,
        measured=(
            f"{arm} used {steps:.0%} of the steps and {wall:.0%} of the wall time; best `{metric}` "
            f"{best_stopping:.4f} vs {best_unpruned:.4f} without early stopping; {delivered}"
        ),
        target=f"≤ {STEP_TARGET:.0%} of the steps, delivered model not worse at any depth",
        met=steps <= STEP_TARGET and not worse,
        notes=[
            f"early-stopping experiment: {stopping.folder}",
            f"no-early-stopping experiment: {unpruned.folder}",
            f"no-early-stopping winner: {winner}",
        ],
    )
