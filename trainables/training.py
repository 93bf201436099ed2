"""One training run of the adaptive-layer recipe, evaluated on STS-dev every N steps.

The same function serves a sweep trial, a local ``sweep trial`` run and a retrain; only what happens
with each evaluation (``report``) differs.
"""

from __future__ import annotations

import gc
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments
from transformers import PrinterCallback, TrainerCallback, set_seed

from trainables.data import StsPairs, TrialData
from trainables.errors import InputError, RunFailed
from trainables.evaluation import evaluate_sts
from trainables.loss import build_loss
from trainables.metrics import FAILURE, MEAN_DEPTH, OBJECTIVE, depth_metric
from trainables.model import ModelConfig, build_model
from trainables.plateau import Plateau
from trainables.quiet import quiet_libraries
from trainables.selection import BestWeights, Selection
from trainables.step_clock import StepClock
from trainables.train_config import TrainConfig

Report = Callable[[dict[str, Any]], None]


class NonFiniteLoss(FloatingPointError):
    """The training loss became NaN or infinite: the run cannot recover, so it stops at that step."""


class TrialFailed(RunFailed):
    """A run that had to be fully trained (a retrain, a local trial) stopped itself; see the message."""


def resolve_precision(precision: str, on_gpu: bool) -> str:
    """auto picks bf16 on GPUs that support it, else fp16, and fp32 on CPU."""
    if precision != "auto":
        return precision
    if not on_gpu:
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


class _EvaluateEvery(TrainerCallback):
    """Evaluates STS-dev every N steps and at the last step, and hands the row to ``report``.

    It asks the Trainer to log at the same steps so the row carries the mean training loss since the
    previous evaluation; the evaluation itself runs in ``on_log``, right after the loss is known.
    Each row also carries the run's timing figures (see ``StepClock``). With a ``plateau``, the run
    ends at the evaluation that completes its patience, and that row counts as its last (``completed``).
    With ``keep``, each evaluation is offered to it, which keeps the weights of the best one.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        pairs: StsPairs,
        every: int,
        batch_size: int,
        report: Report,
        clock: StepClock,
        plateau: Plateau | None = None,
        keep: BestWeights | None = None,
    ):
        self.model, self.pairs, self.every, self.batch_size, self.report = model, pairs, every, batch_size, report
        self.clock, self.keep = clock, keep
        self.stall = plateau.tracker() if plateau else None
        self.pending = False
        self.step = 0
        self.history: list[dict[str, Any]] = []

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.every == 0 or state.global_step >= state.max_steps:
            control.should_log = True
            self.pending = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not self.pending or not logs or "loss" not in logs:
            return
        self.pending = False
        loss = float(logs["loss"])
        with self.clock.evaluating():
            sts = evaluate_sts(self.model, self.pairs, self.batch_size)
        row = {
            "step": state.global_step,
            "total_steps": state.max_steps,
            "epoch": float(state.epoch or 0.0),
            "loss": loss,
            "learning_rate": float(logs.get("learning_rate", float("nan"))),
            OBJECTIVE: sts["full"]["spearman_cosine"],
            MEAN_DEPTH: sum(sts["per_depth"]) / len(sts["per_depth"]),
            **{depth_metric(d): v for d, v in enumerate(sts["per_depth"], start=1)},
            **self.clock.figures(),
        }
        stalled = self.stall is not None and self.stall.stalled(row[self.stall.metric])
        row["completed"] = state.global_step >= state.max_steps or stalled
        if stalled:
            control.should_training_stop = True
        if self.keep is not None:
            self.keep.offer(self.model, row)
        self.history.append(row)
        self.report(row)

    def on_step_begin(self, args, state, control, **kwargs):
        self.step = state.global_step + 1

    def stop_on(self, failure: NonFiniteLoss, total_steps: int) -> None:
        """Report the failure as the run's last row: Tune ends the trial without retrying it."""
        row = {
            "step": self.step,
            "total_steps": total_steps,
            "loss": float("nan"),
            OBJECTIVE: float("nan"),
            "completed": False,
            FAILURE: str(failure),
        }
        self.history.append(row)
        self.report(row)


def _check_finite(module, inputs, loss) -> None:
    """Forward hook on the loss: one check per step, where the Trainer would otherwise average NaN away."""
    if not torch.isfinite(loss):
        raise NonFiniteLoss(f"training loss became {loss.item()}")


def training_arguments(
    params: dict[str, Any], settings: TrainConfig, seed: int, output_dir: str
) -> SentenceTransformerTrainingArguments:
    """The Trainer's arguments for one run: ``params``' trainer knobs over ``settings``, no checkpoints, no logs."""
    on_gpu = torch.cuda.is_available()
    precision = resolve_precision(settings.precision, on_gpu)
    if precision == "fp16" and not on_gpu:
        raise InputError("train.precision: fp16 needs a GPU; use auto, fp32 or bf16")
    return SentenceTransformerTrainingArguments(
        output_dir=output_dir,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps or -1,
        per_device_train_batch_size=int(params.get("batch_size", settings.batch_size)),
        learning_rate=float(params.get("learning_rate", settings.learning_rate)),
        # transformers 5 reads a float below 1 as a share of the steps (warmup_ratio is deprecated).
        warmup_steps=float(params.get("warmup_ratio", settings.warmup_ratio)),
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        batch_sampler=settings.batch_sampler,
        seed=seed,
        data_seed=seed,
        save_strategy="no",  # the sweep needs no checkpoints; retrain saves the model itself
        eval_strategy="no",  # evaluation runs in the callback, at the steps it chooses
        logging_strategy="no",
        logging_nan_inf_filter=False,  # a NaN loss must stop the run, not be averaged out of the log
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        use_cpu=not on_gpu,
    )


def train(
    params: dict[str, Any],
    data: TrialData,
    settings: TrainConfig,
    model_config: ModelConfig,
    seed: int,
    report: Report | None = None,
    started_at: float | None = None,
    plateau: Plateau | None = None,
    keep: BestWeights | None = None,
) -> tuple[SentenceTransformer, list[dict[str, Any]]]:
    """Train one config; returns the trained model and the evaluation rows, each also passed to ``report``.

    ``params`` holds the AdaptiveLayerLoss values and the trainer knobs (learning_rate, warmup_ratio,
    batch_size); missing ones take ``settings``' values. ``started_at`` (a ``time.time()``) is when the
    run began, for the rows' timing figures; by default, now. With a ``plateau`` the run may end early,
    once its STS-dev stops improving (see ``trainables.plateau``). With ``keep``, the weights of the
    best evaluation are kept there; the returned model has the last weights either way.
    """
    clock = StepClock(started_at)
    with tempfile.TemporaryDirectory(prefix="trainer-") as output_dir:
        args = training_arguments(params, settings, seed, output_dir)  # refuses a bad precision before loading
        set_seed(seed)  # covers python's random too, which AdaptiveLayerLoss samples layers with
        model = build_model(model_config, device="cpu" if args.use_cpu else "cuda")
        loss = build_loss(model, params)
        loss.register_forward_hook(_check_finite)
        callback = _EvaluateEvery(
            model, data.sts_dev, settings.eval_steps, settings.eval_batch_size, report or _ignore, clock, plateau, keep
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=data.train, loss=loss, callbacks=[clock, callback]
        )
        trainer.remove_callback(PrinterCallback)  # rows reach the caller through `report` instead
        try:
            trainer.train()
        except NonFiniteLoss as failure:
            callback.stop_on(failure, trainer.state.max_steps)
    return model, callback.history


@dataclass
class Delivered:
    """A full run scored on STS-test twice: with the weights its selection rule kept, and at its end."""

    model: SentenceTransformer  # holds the kept weights
    history: list[dict[str, Any]]  # every STS-dev evaluation row
    chosen: dict[str, Any]  # the kept evaluation's row (its step, its STS-dev scores)
    test: dict[str, Any]  # evaluate_sts of the kept weights
    final: dict[str, Any]  # evaluate_sts of the weights at the end of the budget


def train_and_deliver(
    params: dict[str, Any],
    data: TrialData,
    sts_test: StsPairs,
    settings: TrainConfig,
    model_config: ModelConfig,
    seed: int,
    selection: Selection,
    report: Report | None = None,
) -> Delivered:
    """``train`` on the full budget, STS-dev at the sweep's cadence; deliver the weights of the evaluation
    ``selection`` ranks first, as the sweep picks its winner, scored on STS-test (and the last weights too).

    Raises TrialFailed when the run stopped itself or no evaluation could be ranked.
    """
    kept = BestWeights(selection)
    model, history = train(params, data, settings, model_config, seed, report, keep=kept)
    if history and history[-1].get(FAILURE):
        raise TrialFailed(f"seed {seed}, {params}: {history[-1][FAILURE]} at step {history[-1]['step']}")
    if kept.row is None:
        raise TrialFailed(f"seed {seed}, {params}: no STS-dev evaluation had a score to choose by")
    final = evaluate_sts(model, sts_test, settings.eval_batch_size)
    test = final
    if kept.row["step"] != history[-1]["step"]:
        kept.restore(model)
        test = evaluate_sts(model, sts_test, settings.eval_batch_size)
    return Delivered(model, history, kept.row, test, final)


def start_worker_run(threads: int) -> None:
    """First call of a run (trial or retrain) in a Ray worker: free what the worker's last run left,
    quiet the libraries, pin torch to the given CPUs.

    Ray reuses workers (Tune's trials, CPU tasks). A run that Tune stops (ASHA) unwinds with its trainer,
    optimizer and model still in reference cycles, which only a collection frees; on a GPU, the caching
    allocator then still holds their blocks until ``empty_cache`` hands them back. This happens as the
    next run starts rather than as the last one ends, because a stopped run's frames stay alive until its
    exception has left the thread.

    Ray sets OMP_NUM_THREADS from the resources, but torch may have sized its pool before that;
    pinning keeps concurrent trials from oversubscribing the cores.
    """
    gc.collect()
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    quiet_libraries()
    torch.set_num_threads(threads)


def _ignore(row: dict[str, Any]) -> None:
    pass
