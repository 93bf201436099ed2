"""Builds the ``tune.Tuner``: the adaptive-layer trainable, Optuna (TPE) search, ASHA scheduling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.samplers import TPESampler
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

from sweep.config import ExperimentConfig
from sweep.objective import search_metric
from sweep.search_space import first_point, param_space, reference_point
from trainables.adaptive_layer import adaptive_layer_trainable
from trainables.data import TrialData
from trainables.errors import InputError
from trainables.metrics import MODE


@dataclass(frozen=True)
class SweepPlan:
    """What the driver worked out before any trial starts."""

    n_layers: int  # transformer layers of the model
    max_evaluations: int  # reports of the longest full run: ASHA's max_t
    reference: dict[str, Any]  # the reference defaults, evaluated first


def smallest_batch(config: ExperimentConfig) -> int:
    """The smallest batch size a trial can get: the longest run, and the fewest rows that fill a batch."""
    batch = config.space.get("batch_size")
    return min(batch.values) if batch is not None else config.train.batch_size


def max_evaluations(config: ExperimentConfig, n_rows: int) -> int:
    """Reports of the longest possible run."""
    return config.train.evaluations(n_rows, smallest_batch(config))


def build_scheduler(config: ExperimentConfig, max_t: int) -> TrialScheduler:
    """ASHA on the number of STS-dev evaluations, so rungs fall on evaluations (one report each), judging
    one metric (``objective.prune_on``) even when Optuna optimises two."""
    if config.scheduler.type == "none":
        return FIFOScheduler()
    if config.scheduler.grace_period > max_t:
        raise InputError(
            f"scheduler.grace_period: {config.scheduler.grace_period} exceeds the {max_t} STS-dev evaluations "
            f"of a full run; use 1..{max_t} or lower train.eval_steps"
        )
    return ASHAScheduler(
        time_attr="training_iteration",
        metric=config.objective.prune_metric,
        mode=MODE,
        max_t=max_t,
        grace_period=config.scheduler.grace_period,
        reduction_factor=config.scheduler.reduction_factor,
    )


def build_searcher(config: ExperimentConfig, reference: dict[str, Any]) -> ConcurrencyLimiter:
    """Optuna TPE, seeded, with the reference defaults as the first point it evaluates.

    TPE handles one objective or several; with two, Optuna keeps a Pareto front of the trials.
    """
    first = first_point(config.space, reference)
    metric, mode = search_metric(config.objective)
    searcher = OptunaSearch(
        metric=metric,
        mode=mode,
        sampler=TPESampler(seed=config.search.seed, n_startup_trials=config.search.n_startup_trials),
        points_to_evaluate=[first] if first else None,
    )
    return ConcurrencyLimiter(searcher, max_concurrent=config.search.max_concurrent)


def build_tuner(
    config: ExperimentConfig,
    data: TrialData,
    plan: SweepPlan,
    experiment_dir: Path | str,
) -> tune.Tuner:
    """The Tuner for one sweep, storing its experiment in ``experiment_dir`` (so ``Tuner.restore`` works)."""
    experiment_dir = Path(experiment_dir)
    trainable = tune.with_parameters(
        adaptive_layer_trainable,
        data=data,
        settings=config.train,
        model_config=config.model,
        threads=config.resources.threads,
    )
    trainable = tune.with_resources(trainable, {"cpu": config.resources.cpu, "gpu": config.resources.gpu})
    # The searcher and the scheduler each carry their own metric (they differ for two objectives), so
    # the TuneConfig names none: Tune refuses a metric set in both places.
    tune_config = tune.TuneConfig(
        search_alg=build_searcher(config, plan.reference),
        scheduler=build_scheduler(config, plan.max_evaluations),
        num_samples=config.search.num_samples,
        # A reused CPU worker skips re-importing torch and transformers (seconds per trial). GPU trials
        # get a fresh process each, since a stopped trial may leave memory allocated (ray #23971).
        reuse_actors=config.resources.gpu == 0,
        trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
    )
    run_config = tune.RunConfig(
        name=experiment_dir.name,
        storage_path=str(experiment_dir.parent.resolve()),
        # The sweep writes no checkpoints: ASHA only stops trials, it never pauses and resumes them.
        checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        failure_config=tune.FailureConfig(max_failures=0),
        verbose=1,
    )
    return tune.Tuner(
        trainable,
        param_space=param_space(config.space, plan.reference),
        tune_config=tune_config,
        run_config=run_config,
    )


def reference_of(config: ExperimentConfig) -> dict[str, Any]:
    """The reference defaults of this experiment (loss defaults, trainer knobs from ``train``)."""
    return reference_point(config.train.model_dump())
