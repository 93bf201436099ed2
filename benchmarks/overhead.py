"""1. Tune overhead: training throughput of one trial inside the sweep vs a plain SentenceTransformerTrainer.

Both arms train the reference defaults with the same recipe, seed and thread count, and time their
optimizer steps with the same ``StepClock``. Throughput counts every step over the time from the
first step's start to the last step's end, so the batches' data handling between steps counts and
the single evaluation after the last step does not.
"""

from __future__ import annotations

import statistics
import tempfile

import pandas as pd

from benchmarks.recipe import NO_EARLY_STOPPING, recipe
from benchmarks.record import Outcome
from benchmarks.session import Session
from benchmarks.sweeps import sweep_phase
from sweep.config.experiment import ExperimentConfig

TARGET = 0.97


def steady_throughput(figures: dict | pd.Series, steps: int, batch_size: int) -> float:
    """Samples per second from the first step's start to the last step's end."""
    return steps * batch_size / (figures["last_step_at"] - figures["first_step_at"])


def plain_trainer_run(config: ExperimentConfig) -> dict[str, float]:
    """The reference defaults trained by a plain SentenceTransformerTrainer in this process, no Ray."""
    import torch
    from sentence_transformers import SentenceTransformerTrainer
    from transformers import set_seed

    from sweep.config.search_space import trial_params
    from sweep.workflow.commands import prepare
    from trainables.loss import build_loss
    from trainables.model import build_model
    from trainables.step_clock import StepClock
    from trainables.training import training_arguments

    prepared = prepare(config)
    params = trial_params(config.space, config.reference)
    torch.set_num_threads(config.resources.threads)  # what a trial gets
    clock = StepClock()
    with tempfile.TemporaryDirectory(prefix="plain-trainer-") as output_dir:
        args = training_arguments(params, config.train, config.train.seed, output_dir)
        set_seed(config.train.seed)
        model = build_model(config.model, device="cpu")
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=prepared.data.train, loss=build_loss(model, params), callbacks=[clock]
        )
        trainer.train()
    return clock.figures()


def run(session: Session) -> Outcome:
    steps = 8 if session.quick else 30
    # The arms alternate, so drift in the machine's speed hits both; on a shared virtual machine one
    # short run swings by up to 20%, hence three rounds and medians in full mode.
    rounds = 1 if session.quick else 3
    config = recipe(
        session.quick,
        f"train.max_steps={steps}",
        f"train.eval_steps={steps}",  # one evaluation, after the last step
        "search.num_samples=1",  # the first point: the reference defaults
        "search.max_concurrent=1",
        *NO_EARLY_STOPPING,
    )
    batch = config.train.batch_size
    rows = []
    for round_ in range(1, rounds + 1):
        plain = plain_trainer_run(config)
        rows.append(("plain trainer", round_, plain, plain["first_step_at"] - plain["run_started_at"]))
        trial = sweep_phase(config, f"overhead-{session.mode}").reports.iloc[-1]
        rows.append(("sweep trial", round_, trial, trial["first_step_at"] - trial["run_started_at"]))
    table = pd.DataFrame(
        [
            {
                "arm": arm,
                "round": round_,
                "steps": steps,
                "samples_per_s": steady_throughput(figures, steps, batch),
                "s_in_steps": float(figures["step_time_s"]),
                "s_to_first_step": float(to_first),
            }
            for arm, round_, figures, to_first in rows
        ]
    )
    by_arm = table.groupby("arm")["samples_per_s"].apply(statistics.median)
    ratio = by_arm["sweep trial"] / by_arm["plain trainer"]
    return Outcome(
        name="1. tune overhead",
        table=table,
        measured=(
            f"throughput ratio sweep/plain {ratio:.3f} "
            f"({by_arm['sweep trial']:.2f} vs {by_arm['plain trainer']:.2f} samples/s, {steps} steps, batch {batch})"
        ),
        target=f"≥ {TARGET}",
        met=ratio >= TARGET,
        notes=[
            "s_to_first_step: a sweep trial's starts at the trainable's entry in its worker, so a cold worker's "
            "imports count; the plain run's starts after this process has imported everything",
        ],
    )
