"""Builds the ``tune.Tuner``: the adaptive-layer trainable, Optuna (TPE) search, early stopping by the
scheduler of ``scheduler.type`` (``sweep.tuning.schedulers``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.storages import BaseStorage
from ray import tune
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

from sweep.config.experiment import ExperimentConfig
from sweep.monitor.progress import OutputOptions, SweepProgress
from sweep.monitor.stall import StallWatch, record_stalled
from sweep.runtime import credentials
from sweep.store.files import Folder
from sweep.tracking.backends import tune_callbacks
from sweep.tuning.rungs import Reported, prime
from sweep.tuning.schedulers import MarkRanked, build_scheduler
from sweep.tuning.searcher import Warmstart, build_searcher
from sweep.tuning.space import param_space
from trainables.adaptive_layer import adaptive_layer_trainable
from trainables.data import TrialData
from trainables.internals import disable_tune_auto_loggers
from trainables.plateau import Plateau


@dataclass(frozen=True)
class SweepPlan:
    """What the driver worked out before any trial starts."""

    n_layers: int  # transformer layers of the model
    max_evaluations: int  # reports of the longest full run: ASHA's max_t


def smallest_batch(config: ExperimentConfig) -> int:
    """The smallest batch size a trial can get: the longest run, and the fewest rows that fill a batch."""
    batch = config.space.get("batch_size")
    return min(batch.values) if batch is not None else config.train.batch_size


def max_evaluations(config: ExperimentConfig, n_rows: int) -> int:
    """Reports of the longest possible run."""
    return config.train.evaluations(n_rows, smallest_batch(config))


def build_plateau(config: ExperimentConfig) -> Plateau | None:
    """The trials' own stopping rule (``scheduler.patience``), judged on the metric ASHA judges."""
    if config.scheduler.patience is None:
        return None
    return Plateau(metric=config.objective.prune_metric, patience=config.scheduler.patience)


@dataclass(frozen=True)
class TunerSpec:
    """Everything ``tune.Tuner`` is built from, so the wiring can be read without calling ``fit()``."""

    trainable: Any  # the adaptive-layer trainable with its data attached
    resources: dict[str, float]  # what each trial asks Ray for (attached in `tuner`)
    param_space: dict[str, Any]
    tune_config: tune.TuneConfig
    run_config: tune.RunConfig

    def record_stalled(self, folder: Folder) -> None:
        """After ``fit()``: the trials the stall rule ended, as errored in Ray's state (``sweep.monitor.stall``)."""
        for callback in self.run_config.callbacks or []:
            if isinstance(callback, StallWatch):
                record_stalled(folder, callback.stalled)

    def tuner(self) -> tune.Tuner:
        trainable = tune.with_resources(self.trainable, self.resources)
        return tune.Tuner(
            trainable, param_space=self.param_space, tune_config=self.tune_config, run_config=self.run_config
        )


def tuner_spec(
    config: ExperimentConfig,
    data: TrialData,
    plan: SweepPlan,
    folder: Folder | Path | str,
    warmstart: Warmstart | None = None,
    study_storage: BaseStorage | None = None,
    output: OutputOptions | None = None,
    earlier: list[Reported] | None = None,
) -> TunerSpec:
    """Everything the Tuner for one sweep (or the rest of a resumed one) is built from, storing its Ray
    experiment in ``folder`` and its Optuna study in ``study_storage`` (in memory when None); ``.tuner()``
    builds it. ``output``: what it prints while it runs. ``earlier``: a resumed sweep's finished trials,
    told to the scheduler before any trial starts, so that its rungs hold them (``sweep.tuning.rungs``)."""
    folder = Folder.of(folder)
    output = output or OutputOptions()
    num_samples = warmstart.num_samples if warmstart else config.search.num_samples
    trainable = tune.with_parameters(
        adaptive_layer_trainable,
        data=data,
        settings=config.train,
        model_config=config.model,
        threads=config.resources.threads,
        plateau=build_plateau(config),
    )
    resources = {"cpu": config.resources.cpu, "gpu": config.resources.gpu}
    # The searcher and the scheduler each carry their own metric (they differ for two objectives), so
    # the TuneConfig names none: Tune refuses a metric set in both places.
    scheduler = build_scheduler(config, plan.max_evaluations)
    prime(scheduler, earlier or [])
    tune_config = tune.TuneConfig(
        search_alg=build_searcher(config, warmstart, study_storage),
        scheduler=scheduler,
        num_samples=num_samples,
        # A reused worker skips re-importing torch and transformers and re-initialising CUDA (seconds
        # per trial). Tune reuses one only after the last trial's thread has ended, and each trial first
        # frees what the last one left, GPU cache included (trainables.training.start_worker_run).
        reuse_actors=True,
        trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
    )
    # Each trial's result.json and progress.csv, but no TensorBoard files: Tune's TensorBoard logger
    # imports tensorboardX, which imports torch, and so delayed the first trial of a sweep by seconds
    # of the driver's CPU (7 s on 2 cores). `tracking.tensorboard` adds it back without torch.
    disable_tune_auto_loggers()
    # Tune would copy this process's AWS keys into each trial's runtime environment, which Ray writes to
    # its logs in plain text; the trials inherit them anyway (see sweep.runtime.credentials).
    credentials.keep_out_of_runtime_envs()
    # MarkRanked first: it changes a report in place before the loggers write it.
    callbacks = [MarkRanked(scheduler), JsonLoggerCallback(), CSVLoggerCallback(), *tune_callbacks(config, folder.name)]
    if config.failures.trial_timeout_s is not None:
        # Before the progress lines: it writes why a stalled trial ended where their error line reads it.
        callbacks.append(StallWatch(config.failures.trial_timeout_s))
    if not output.verbose:
        # One line per trial event and a progress line (sweep.monitor.progress) instead of Tune's tables, which
        # `--verbose` brings back.
        callbacks.append(
            SweepProgress(
                planned=num_samples,
                concurrency=config.search.max_concurrent,
                selection=config.objective.selection,
                searched=[key for key, param in config.space.items() if param.searched],
                options=output,
                earlier=config.search.num_samples - num_samples,
                location=folder.location,
            )
        )
    output.tune_output_engine()
    run_config = tune.RunConfig(
        name=folder.name,
        callbacks=callbacks,
        storage_path=folder.storage_path(),
        # The sweep writes no checkpoints: ASHA only stops trials, it never pauses and resumes them.
        checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        # A trial that raised restarts from step 1 (there is no checkpoint to resume from).
        failure_config=tune.FailureConfig(max_failures=config.failures.max_retries),
        verbose=output.tune_verbosity,
    )
    return TunerSpec(
        trainable=trainable,
        resources=resources,
        param_space=param_space(config.space, config.reference),
        tune_config=tune_config,
        run_config=run_config,
    )
