"""Retrain: the best config and the arms it is compared with (``sweep.config.arms``: the reference defaults, the
loss's defaults at the winner's trainer settings, plain MultipleNegativesRankingLoss), full budget, every
seed, scored on STS-test; and the base model before any training, scored once.

Each retrain evaluates STS-dev at the sweep's cadence and delivers the weights of the evaluation the
sweep's own selection rule ranks first (``objective.selection``), so the model it scores and keeps is
chosen the way the winning trial was. Each run is a Ray task with the trial's resources, so on a
cluster it lands on a GPU node; the model to keep travels back as file contents, so no shared
filesystem is needed.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray

from sweep.config.arms import BEST, RUN_NAMES, UNTRAINED, WORDS, plan_arms
from sweep.config.experiment import ExperimentConfig
from sweep.runtime import signals
from sweep.store.folder import ExperimentFolder, Retrained, now_stamp
from sweep.store.records import Arm, RetrainRecord, Scored, TrainedRun, UntrainedRun, json_record
from sweep.store.similarities import similarity_frame
from trainables.data import StsPairs, TrialData, load_triplets, sample
from trainables.errors import RunFailed
from trainables.metrics import OBJECTIVE
from trainables.model import ModelConfig
from trainables.selection import Selection
from trainables.train_config import TrainConfig

log = logging.getLogger("sweep")


def retrain_one(
    params: dict[str, Any],
    seed: int,
    data: TrialData,
    sts_test: StsPairs,
    settings: TrainConfig,
    model_config: ModelConfig,
    selection: Selection,
    threads: int,
    keep_model: bool,
) -> tuple[TrainedRun, dict[str, bytes] | None]:
    """Train ``params`` with ``seed`` on the full budget; STS-test of the chosen weights and of the last ones.
    With ``keep_model``, also the model's files (path -> content), which travel back to the driver."""
    # Imported in the worker only, as for the sweep's trainable.
    from trainables.hold import RETRAIN, held
    from trainables.training import start_worker_run, train_and_deliver

    started = now_stamp()
    start_worker_run(threads)
    run = train_and_deliver(params, data, sts_test, settings, model_config, seed, selection, held(None, RETRAIN))
    kept: dict[str, Any] = {}
    files = None
    if keep_model:
        from trainables.evaluation import evaluate_sts

        # The delivered model's own STS-dev metric set, for its card (evaluations during training keep one).
        kept["sts_dev"] = evaluate_sts(run.model, data.sts_dev, settings.eval_batch_size)["full"]
        with tempfile.TemporaryDirectory(prefix="best-model-") as folder:
            run.model.save(folder)
            files = {str(p.relative_to(folder)): p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()}
    record = TrainedRun(
        seed=seed,
        chosen_step=int(run.chosen["step"]),
        steps=int(run.history[-1]["step"]),
        sts_dev_chosen=float(run.chosen[OBJECTIVE]),
        sts_dev_final=float(run.history[-1][OBJECTIVE]),
        chosen={metric: float(run.chosen[metric]) for metric in selection.metrics},
        test=run.test["full"],
        test_per_depth=run.test["per_depth"],
        final=run.final["full"]["spearman_cosine"],
        final_per_depth=run.final["per_depth"],
        cosine=np.asarray(run.test["cosine"]).tolist(),  # JSON, at full precision
        node_id=ray.get_runtime_context().get_node_id(),
        started=started,
        **kept,
        params=params,
    )
    return record, files


def score_untrained(
    data: TrialData, sts_test: StsPairs, model_config: ModelConfig, threads: int, batch_size: int
) -> UntrainedRun:
    """The base model before any training on STS-dev and STS-test, every depth: what training starts from."""
    from trainables.evaluation import evaluate_sts
    from trainables.model import build_model
    from trainables.training import start_worker_run

    start_worker_run(threads)
    model = build_model(model_config)
    dev, test = evaluate_sts(model, data.sts_dev, batch_size), evaluate_sts(model, sts_test, batch_size)
    return UntrainedRun(
        sts_dev=Scored(full=dev["full"], per_depth=dev["per_depth"]),
        test=Scored(full=test["full"], per_depth=test["per_depth"]),
        cosine=np.asarray(test["cosine"]).tolist(),
    )


@dataclass(frozen=True)
class RetrainRun:
    """One Ray task of the retrain: ``name`` is its record's name in the folder (``best-seed42``)."""

    name: str
    arm: str  # see sweep.config.arms
    params: dict[str, Any] | None  # None: the untrained model, scored once
    seed: int | None
    keep_model: bool = False

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether a record left by an earlier retrain is this run (same config, same seed)."""
        return self.params is None or (record.get("params") == self.params and record.get("seed") == self.seed)


def plan_runs(config: ExperimentConfig, best: dict[str, Any] | None, default: dict[str, Any]) -> list[RetrainRun]:
    """Every run of the retrain: each arm with a config of its own per seed (the best config's first seed
    keeps its model), arms ``retrain.arms`` names in ``sweep.config.arms`` order, then the untrained model. With
    ``best`` None (no trial was feasible) only the defaults and the untrained model, and no model is kept."""
    seeds = config.retrain_seeds
    runs = []
    for arm in plan_arms(config, best, default):
        if arm.runs_of != arm.name:
            continue  # the same config as an earlier arm: its runs
        if arm.params is None:
            runs.append(RetrainRun(UNTRAINED, UNTRAINED, None, None))
            continue
        runs += [
            RetrainRun(
                f"{RUN_NAMES[arm.name]}-seed{seed}", arm.name, arm.params, seed, keep_model=arm.name == BEST and i == 0
            )
            for i, seed in enumerate(seeds)
        ]
    return runs


def retrain(
    config: ExperimentConfig,
    data: TrialData,
    sts_test: StsPairs,
    best: dict[str, Any] | None,
    default: dict[str, Any],
    folder: ExperimentFolder | None = None,
    on_record: Callable[[str, dict[str, Any]], None] | None = None,
) -> Retrained:
    """Run every (config, seed) retrain and the untrained scoring as Ray tasks.

    With ``folder``, each run's record is written there as soon as it finishes (the kept model first), and
    runs an earlier, interrupted retrain left there are not run again. A task whose worker or node dies
    is retried by Ray (``failures.max_retries``); one that raises stops the retrain with one line.
    ``on_record(name, record)`` is told of each run this call finishes, after its record is written.

    The record holds each arm's per-seed results under its run name (``best``, ``default``,
    ``defaults_at_best_trainer``, ``plain``; None for an arm not retrained), ``default_is_best``,
    ``untrained``, ``best_config``, ``default_config`` and ``arms`` (each arm's config, whose runs it is,
    and why where that is another arm's); every run's STS-test cosine similarities (for the verdicts)
    come as one long frame. An arm whose config equals an earlier arm's (the best config is the reference
    defaults, say) is that arm's runs, reused.
    """
    planned = plan_runs(config, best, default)
    log.info("retrain: %s", cost(planned))
    done = _finished_runs(planned, folder)
    todo = [run for run in planned if run.name not in done]
    if folder is not None and done:
        log.info("retrain: %d of %d runs kept from an earlier retrain, %d to run", len(done), len(planned), len(todo))
    if todo:
        done.update(_run(config, data, sts_test, todo, folder, on_record))
    return _assemble(config, sts_test, planned, done, best, default)


def cost(planned: list[RetrainRun]) -> str:
    """What the retrain costs, in full training runs, for the people who pay for it."""
    trained = [run for run in planned if run.params is not None]
    if not trained:  # no winner, and retrain.arms leaves out the defaults
        return "no training run; the untrained model scored"
    arms = len({run.arm for run in trained})
    seeds = len({run.seed for run in trained})
    shape = " × ".join([f"{arms} arm{'s' if arms > 1 else ''}", f"{seeds} seed{'s' if seeds > 1 else ''}"])
    scored = " and the untrained model scored" if len(trained) < len(planned) else ""
    return (
        f"{len(trained)} full training run{'s' if len(trained) != 1 else ''} ({shape}){scored}, "
        "side by side where the cluster has room"
    )


def _finished_runs(planned: list[RetrainRun], folder: ExperimentFolder | None) -> dict[str, dict[str, Any]]:
    """Records of ``planned`` runs already in ``folder``; the kept model's run counts only with its model."""
    if folder is None:
        return {}
    records = folder.retrain_runs()
    done = {run.name: records[run.name] for run in planned if run.name in records and run.matches(records[run.name])}
    for run in planned:
        if run.keep_model and run.name in done and not folder.has_model():
            del done[run.name]
    return done


def _run(
    config: ExperimentConfig,
    data: TrialData,
    sts_test: StsPairs,
    todo: list[RetrainRun],
    folder: ExperimentFolder | None,
    on_record: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run ``todo`` as Ray tasks, writing each record to ``folder`` as it arrives."""
    # Retries cover a lost worker or node (Ray's system failures); an exception in the run is not retried.
    options = {
        "num_cpus": config.resources.cpu,
        "num_gpus": config.resources.gpu,
        "max_retries": config.failures.max_retries,
    }
    train, score = ray.remote(retrain_one).options(**options), ray.remote(score_untrained).options(**options)
    shared_test = ray.put(sts_test)
    # Once per seed: every arm of a seed trains on the same rows, whichever they are.
    # Each distinct set of rows goes to the object store once: without per-seed samples, every seed shares
    # the sweep's rows, and putting them once per seed would hold that many copies.
    stored: dict[int, ray.ObjectRef] = {}
    per_seed: dict[int | None, ray.ObjectRef] = {}
    for seed, rows in training_data(config, data, _seeds(todo)).items():
        if id(rows) not in stored:
            stored[id(rows)] = ray.put(rows)
        per_seed[seed] = stored[id(rows)]
    shared_data = per_seed[None]
    threads = config.resources.threads
    pending: dict[ray.ObjectRef, RetrainRun] = {}
    for run in todo:
        ref: ray.ObjectRef
        if run.params is None:
            ref = score.remote(shared_data, shared_test, config.model, threads, config.train.eval_batch_size)
        else:
            keep = run.keep_model and folder is not None
            assert run.seed is not None  # every trained run has one; only the untrained model has none
            ref = train.remote(
                run.params, run.seed, per_seed[run.seed], shared_test, config.train, config.model,
                config.objective.selection, threads, keep,
            )  # fmt: skip
        pending[ref] = run
    done: dict[str, dict[str, Any]] = {}
    try:
        with signals.polled():
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                signals.check()
                if ready:
                    run = pending.pop(ready[0])
                    done[run.name] = _keep(run, gather(ready, _describe(run))[0], folder)
                    if on_record is not None:
                        on_record(run.name, done[run.name])
    finally:
        for ref in pending:  # interrupted or failed: free the cluster of runs nobody will collect
            ray.cancel(ref, force=True)
    return done


def _keep(
    run: RetrainRun,
    result: tuple[TrainedRun, dict[str, bytes] | None] | UntrainedRun,
    folder: ExperimentFolder | None,
) -> dict[str, Any]:
    """A finished run's record, written to ``folder`` (its model first, which the record vouches for), and
    returned as the JSON its file holds, as an earlier retrain's records are read back."""
    record, files = result if isinstance(result, tuple) else (result, None)
    if isinstance(record, TrainedRun):
        record = record.model_copy(update={"finished": now_stamp()})
    if folder is not None:
        if files is not None:
            folder.write_model(files)
        folder.write_retrain_run(run.name, record)
    return json_record(record)


def _seeds(runs: list[RetrainRun]) -> list[int]:
    return sorted({run.seed for run in runs if run.seed is not None})


def training_data(config: ExperimentConfig, data: TrialData, seeds: list[int]) -> dict[int | None, TrialData]:
    """What each seed trains on: its own random ``data.train.limit`` rows of the whole split, where the split
    has a limit and ``retrain.resample_data`` is on; else the sweep's rows for every seed. Key None: the
    sweep's rows, which the untrained model's STS-dev scoring reads."""
    source = config.data.train
    if source.limit is None or not config.retrain.resample_data or not seeds:
        return {None: data, **{seed: data for seed in seeds}}
    whole = load_triplets(source.model_copy(update={"limit": None, "shuffle": None}), "data.train")
    if len(whole) <= source.limit:
        return {None: data, **{seed: data for seed in seeds}}
    log.info("retrain: each seed trains on its own %d of the %d rows of data.train", source.limit, len(whole))
    return {None: data, **{seed: TrialData(sample(whole, source.limit, seed), data.sts_dev) for seed in seeds}}


def _describe(run: RetrainRun) -> str:
    if run.params is None:
        return WORDS[UNTRAINED]
    return f"{WORDS[run.arm]} (seed {run.seed})"


def _assemble(
    config: ExperimentConfig,
    sts_test: StsPairs,
    planned: list[RetrainRun],
    done: dict[str, dict[str, Any]],
    best: dict[str, Any] | None,
    default: dict[str, Any],
) -> Retrained:
    """The retrain's record and similarity frame from the finished runs."""
    arms = plan_arms(config, best, default)
    runs: dict[str, list[dict[str, Any]]] = {
        arm.name: [done[run.name] for run in planned if run.arm == arm.name]
        for arm in arms
        if arm.params is not None and arm.runs_of == arm.name
    }
    untrained = done[UNTRAINED]
    similarities = similarity_frame(sts_test, runs, untrained)
    kept = {name: [TrainedRun.model_validate(run).in_retrain_record() for run in group] for name, group in runs.items()}
    trained = {RUN_NAMES[arm.name]: kept[arm.runs_of] for arm in arms if arm.params is not None}
    record = RetrainRecord(
        **{key: trained.get(key) for key in RUN_NAMES.values()},  # None: an arm not retrained
        default_is_best=best == default,
        untrained=UntrainedRun.model_validate(untrained).in_retrain_record(),
        best_config=best,
        default_config=default,
        arms={arm.name: Arm(config=arm.params, runs_of=arm.runs_of, note=arm.note) for arm in arms},
        resampled_data=training_data_note(config),
        cost=cost(planned),
    )
    return Retrained(json_record(record), similarities)


def training_data_note(config: ExperimentConfig) -> str:
    """What the retrain's seeds trained on, in words, for the report."""
    source = config.data.train
    if source.limit is None:
        return "every seed: the whole of data.train"
    if config.retrain.resample_data:
        return f"each seed: its own random {source.limit} rows of data.train (every arm of a seed the same rows)"
    return f"every seed: the sweep's {source.limit} rows of data.train"


def gather(refs: list[ray.ObjectRef], what: str) -> list[Any]:
    """The tasks' results; a task that raised becomes one line naming what it was retraining."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as error:
        cause = error.cause if error.cause is not None else error
        lines = [line for line in str(cause).strip().splitlines() if line.strip()]
        raise RunFailed(f"retrain of {what} failed: {type(cause).__name__}: {lines[-1] if lines else ''}") from None
