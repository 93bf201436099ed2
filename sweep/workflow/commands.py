"""The whole job: validate, sweep, retrain, report. Each step can also be rerun on an experiment folder;
every one ends in the same finishing step (``sweep.workflow.finish``) and returns its ``ExperimentResult``."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.storages import BaseStorage

from sweep.config.experiment import ExperimentConfig, check_override_keys
from sweep.config.objective import check_objective_depth
from sweep.config.search_space import check_depth, check_reference_inside, trial_params
from sweep.config.study import redacted
from sweep.config.tracking import redact
from sweep.monitor.progress import OutputOptions
from sweep.runtime import signals
from sweep.runtime.cluster import check_local_ray, check_resources, start_ray
from sweep.store.disk_faults import check_results_dir, check_writable, written
from sweep.store.files import Folder
from sweep.store.folder import (
    CONFIG_FILE,
    REPORT_JSON,
    REPORT_MD,
    ExperimentFolder,
    Retrained,
    config_digest,
    now_stamp,
)
from sweep.store.frames import params_of
from sweep.store.ranking import NoFeasibleTrialError, select_best
from sweep.store.records import ExperimentMeta
from sweep.tracking.backends import check_stored_uri, check_tracking
from sweep.tracking.tracker import Tracker
from sweep.tuning.schedulers import build_scheduler
from sweep.tuning.study import open_storage, study_exists, study_storage
from sweep.tuning.tuner import SweepPlan, max_evaluations, smallest_batch, tuner_spec
from sweep.workflow.finish import ExperimentResult, finish
from sweep.workflow.resume import plan_resume, settle_interrupted
from sweep.workflow.retrain import retrain
from trainables.data import StsPairs, TrialData, load_sts, load_triplets
from trainables.errors import InputError
from trainables.model import model_depth
from trainables.model_check import check_model
from trainables.model_support import check_supported
from trainables.quiet import quiet_libraries

log = logging.getLogger("sweep")


@dataclass(frozen=True)
class Prepared:
    """A validated experiment with its data loaded: nothing can fail for bad input after this."""

    config: ExperimentConfig
    data: TrialData
    sts_test: StsPairs
    plan: SweepPlan


def prepare(config: ExperimentConfig, checks: Callable[[ExperimentConfig, int], None] | None = None) -> Prepared:
    """Check everything about the model and the data that can be checked before a trial starts, and load
    the data once.

    Raises InputError for anything a user can fix: a missing or broken model (``check_model``) or data
    file, a search space the model cannot support, an empty split. The cheap checks and the data come
    first, so most bad input is refused before the model is read; ``checks(config, n_train_rows)``, the
    caller's own, run then.
    """
    quiet_libraries()  # before the data: loading it through datasets draws progress bars otherwise
    check_tracking(config.tracking)  # InputError: a tracker's package missing, its server not answering
    config = config.model_copy(
        update={"model": config.model.resolved(), "data": config.data.resolved(), "search": config.search.resolved()}
    )
    train_rows = load_triplets(config.data.train, "data.train")
    sts_dev = load_sts(config.data.sts_dev, "data.sts_dev")
    sts_test = load_sts(config.data.sts_test, "data.sts_test")
    smallest = smallest_batch(config)
    if len(train_rows) < smallest:
        raise InputError(f"data.train: {len(train_rows)} rows is fewer than one batch of {smallest}")
    if checks is not None:
        checks(config, len(train_rows))
    n_layers = model_depth(config.model)  # imports transformers and torch: a few seconds
    check_supported(config.model)
    check_depth(config.space, n_layers)
    check_objective_depth(config.objective, n_layers)
    check_reference_inside(config.space, config.reference)
    # Last, as the costliest: it loads the model once, on the CPU. Not beside Ray's start: a model refused
    # here must leave no Ray behind, and on 2 cores the two side by side saved 0.7 s (benchmark 2b).
    check_model(config.model, n_layers)
    plan = SweepPlan(n_layers, max_evaluations(config, len(train_rows)))
    return Prepared(config, TrialData(train_rows, sts_dev), sts_test, plan)


def prepare_sweep(config: ExperimentConfig) -> Prepared:
    """``prepare`` for a new sweep, which also needs somewhere to write, something to search, and a grace
    period within the budget."""
    if Folder(config.results_dir).local is not None:
        check_results_dir(config.results_dir, config.name)  # read-only, under a file, names too long
    if Folder(config.results_dir).kind() == "file":
        raise InputError(f"results_dir: {config.results_dir} is a file; give a folder")
    if not any(param.searched for param in config.space.values()):
        raise InputError("search_space: nothing is searched; give at least one parameter a range or choice")
    return prepare(config, _sweep_checks)


def _sweep_checks(config: ExperimentConfig, n_train_rows: int) -> None:
    """What a new sweep needs of a config with its data loaded, before anything costly starts."""
    build_scheduler(config, max_evaluations(config, n_train_rows))  # InputError: a grace period beyond the budget
    search = config.search
    if search.storage is not None:
        storage = open_storage(search.storage)  # InputError: a path that cannot be written, a missing driver
        if search.study_name is not None and study_exists(storage, search.study_name):
            raise InputError(
                f"search.study_name: {search.study_name} exists already in {redacted(search.storage)}; "
                "give a new name (`sweep resume DIR` goes on with a sweep's own study)"
            )


def run_experiment(
    config: ExperimentConfig,
    command: str,
    address: str | None = None,
    resume_if_exists: bool = False,
    output: OutputOptions | None = None,
) -> ExperimentResult:
    """Sweep, retrain and report into a new experiment folder under ``config.results_dir``.

    With ``resume_if_exists``, the newest folder there that an earlier run of this same config started is
    finished instead (`sweep resume`), so a job that a cluster runs again loses nothing. ``output``: what
    the sweep prints while it runs (``sweep.monitor.progress``).
    """
    started = time.monotonic()
    command = redact(command)  # a tracking URI given with --set may carry a password
    digest = config_digest(config)
    check_local_ray(address)
    prepared = prepare_sweep(config)
    config = prepared.config
    if resume_if_exists:
        earlier = ExperimentFolder.started_by(config.results_dir, config.name, digest)
        if earlier is not None:
            log.info("%s holds an earlier run of this config; finishing it", earlier)
            # The same config, so the same tracking URI as the one configured now.
            return resume_experiment(earlier, address, output, trust_tracking_uri=True)
    log.info("validated the config and loaded the data in %.1fs", time.monotonic() - started)
    _connect(config, address)
    log.info("Ray ready at %.1fs", time.monotonic() - started)
    experiment = ExperimentFolder.create(config.results_dir, config.name)
    config = _with_study_name(config, experiment)
    tracker = Tracker(config, experiment.files.name)
    with signals.resumable(experiment.location), written(experiment.location, "resume"):
        with written(experiment.location, None):  # until both are written there is nothing to resume
            experiment.write_config(config)
            meta = ExperimentMeta(
                command=command,
                created=now_stamp(),
                n_layers=prepared.plan.n_layers,
                max_evaluations=prepared.plan.max_evaluations,
                superseded=[],
                config_digest=digest,
            )
            experiment.write_meta(meta)
        storage = _study_storage(config, experiment)
        spec = tuner_spec(config, prepared.data, prepared.plan, experiment.files, study_storage=storage, output=output)
        with _stop_recorded(experiment, meta), signals.sweeping():
            spec.tuner().fit()
        spec.record_stalled(experiment.files)
        trials, reports = experiment.save_results(meta.superseded)
        log.info("sweep finished at %.1fs", time.monotonic() - started)
        tracker.log_statuses(trials)
        retrained = _retrain(experiment, prepared, trials, reports, tracker)
        result = _finish(experiment, config, meta, trials, reports, retrained, tracker)
    log.info("retrained and reported at %.1fs", time.monotonic() - started)
    return result


def resume_experiment(
    location: ExperimentFolder | str | Path,
    address: str | None = None,
    output: OutputOptions | None = None,
    trust_tracking_uri: bool = False,
) -> ExperimentResult:
    """Finish a sweep whose driver died: the rest of the sweep, then retrain and report as usual.
    ``trust_tracking_uri``: log to the folder's MLflow server with this machine's credentials even where
    it is not the one configured here."""
    experiment = ExperimentFolder(location)
    config, meta = experiment.config(), experiment.meta()
    # Finished: only its report is rewritten. Without its frames or its retrain (removed as damaged, say),
    # the steps that write them run again, from Ray's state and the retrain runs kept.
    if experiment.is_reported() and experiment.is_swept() and experiment.has_retrain():
        log.info("%s is finished already; rewriting its report", experiment)
        return report_experiment(experiment)
    _check_folder_writable(experiment, "resume")
    check_local_ray(address)
    check_stored_uri(config.tracking, f"{experiment}/{CONFIG_FILE}", trust_tracking_uri)
    prepared = prepare(config)
    _connect(prepared.config, address)
    tracker = Tracker(prepared.config, experiment.files.name)
    with signals.resumable(experiment.location), written(experiment.location, "resume"):
        if experiment.is_swept():
            trials, reports = experiment.saved_results()
        else:
            config = _with_study_name(prepared.config, experiment)
            storage = _study_storage(config, experiment)
            name = str(config.search.study_name)  # set just above
            stored = storage is not None and study_exists(storage, name)
            plan = plan_resume(experiment.files, config, meta.superseded, stored)
            if storage is not None and stored:
                study = optuna.load_study(study_name=name, storage=storage)
                failed = settle_interrupted(study, plan.outcomes)
                log.info("the stored Optuna study goes on; %d trials the crash interrupted marked failed", len(failed))
            log.info(
                "resuming %s: %d finished trials kept, %d interrupted rerun, %d left to run",
                experiment,
                plan.kept,
                len(plan.superseded) - len(meta.superseded),
                plan.left,
            )
            # Recorded before the rerun starts, so a crash during the resume leaves a resumable folder.
            meta = meta.model_copy(update={"superseded": plan.superseded, "resumed": [*meta.resumed, now_stamp()]})
            experiment.write_meta(meta)
            if plan.left:
                spec = tuner_spec(
                    config, prepared.data, prepared.plan, experiment.files, plan.warmstart, storage, output,
                    earlier=plan.earlier,
                )  # fmt: skip
                with _stop_recorded(experiment, meta), signals.sweeping():
                    spec.tuner().fit()
                spec.record_stalled(experiment.files)
            trials, reports = experiment.save_results(plan.superseded)
            tracker.log_statuses(trials)
        retrained = _retrain(experiment, prepared, trials, reports, tracker)
        return _finish(experiment, prepared.config, meta, trials, reports, retrained, tracker)


# What a retrain may change: how it retrains and judges, never what the sweep measured.
RETRAIN_CHANGEABLE = ("retrain.", "verdict.")


def retrain_experiment(
    location: str | Path,
    address: str | None = None,
    trust_tracking_uri: bool = False,
    overrides: list[str] | tuple[str, ...] = (),
) -> ExperimentResult:
    """Retrain the best trial's config and the reference defaults of a finished sweep, then report
    (``trust_tracking_uri`` as for ``resume_experiment``). ``overrides`` (``retrain.*``, ``verdict.*``)
    are saved to the folder's config.yaml before any run, so a later retrain, resume or report reads the
    same arms and seeds; runs an earlier retrain finished with the same config and seed are kept."""
    check_override_keys(
        overrides,
        RETRAIN_CHANGEABLE,
        "a retrain can only change retrain.* and verdict.*; anything else changes what the sweep measured, "
        "so start a new sweep",
    )
    experiment = ExperimentFolder(location)
    saved, config, meta = experiment.config(), experiment.config(overrides), experiment.meta()
    _check_folder_writable(experiment, "retrain")
    check_local_ray(address)
    check_stored_uri(config.tracking, f"{experiment}/{CONFIG_FILE}", trust_tracking_uri)
    trials, reports = experiment.saved_results()
    prepared = prepare(config)
    if config != saved:  # validated and its data loaded: nothing below refuses it
        # The earlier retrain's record no longer fits the config: dropped first, so that a stop from here
        # on leaves a folder `sweep resume` finishes with the new arms and seeds (the runs kept are reused).
        experiment.forget_retrain()
        experiment.write_config(config)
    _connect(prepared.config, address)
    tracker = Tracker(prepared.config, experiment.files.name)
    with signals.resumable(experiment.location), written(experiment.location, "retrain"):
        retrained = _retrain(experiment, prepared, trials, reports, tracker)
        return _finish(experiment, prepared.config, meta, trials, reports, retrained, tracker)


def report_experiment(location: ExperimentFolder | str | Path) -> ExperimentResult:
    """(Re)write the report and its plots from the saved frames and retrain."""
    experiment = ExperimentFolder(location)
    config, meta = experiment.config(), experiment.meta()
    _check_folder_writable(experiment, "report")
    trials, reports = experiment.saved_results()
    with written(experiment.location, "report"):
        return finish(experiment, config, meta, trials, reports, experiment.retrained())


def analyze_experiment(location: str | Path) -> ExperimentResult:
    """Draw the plots of an experiment folder, running, crashed or done; once it has a retrain, the report
    too, linking them."""
    experiment = ExperimentFolder(location)
    config = experiment.config()
    _check_folder_writable(experiment, "analyze")
    trials, reports = experiment.results()
    with written(experiment.location, "analyze"):
        if not experiment.has_retrain():
            return finish(experiment, config, None, trials, reports, None)
        return finish(experiment, config, experiment.meta(), trials, reports, experiment.retrained())


def _retrain(
    experiment: ExperimentFolder, prepared: Prepared, trials: pd.DataFrame, reports: pd.DataFrame, tracker: Tracker
) -> Retrained:
    """Retrain the winner and the reference defaults, and keep what they left in the folder; each run
    goes to the trackers as it finishes. Where no trial is feasible it says so in one line and retrains
    only the arms that need no winner: the report still gives the defaults and the untrained model."""
    config = prepared.config
    try:
        best: dict[str, Any] | None = params_of(select_best(trials, reports, config.objective, config.reference))
    except NoFeasibleTrialError as nothing:
        log.warning("%s", nothing)
        best = None
    default = trial_params(config.space, config.reference)
    retrained = retrain(config, prepared.data, prepared.sts_test, best, default, experiment, tracker.log_retrain_run)
    experiment.write_retrain(retrained)
    return retrained


def _finish(
    experiment: ExperimentFolder,
    config: ExperimentConfig,
    meta: ExperimentMeta,
    trials: pd.DataFrame,
    reports: pd.DataFrame,
    retrained: Retrained,
    tracker: Tracker,
) -> ExperimentResult:
    """``finish``, then the report and its plots to the trackers."""
    try:
        result = finish(experiment, config, meta, trials, reports, retrained)
        if result.report is not None:
            tracker.log_report(experiment.files, [REPORT_MD, REPORT_JSON, *result.plots], result.report)
        return result
    finally:
        tracker.close()


def run_single_trial(config: ExperimentConfig, report=print) -> dict[str, Any]:
    """One training run of one config, no Ray: searched parameters take their reference value. STS-test
    scores the weights a retrain would deliver (the best evaluation by the objective) and the last ones."""
    from trainables.training import train_and_deliver

    prepared = prepare(config)
    config = prepared.config
    params = trial_params(config.space, config.reference)
    run = train_and_deliver(
        params,
        prepared.data,
        prepared.sts_test,
        config.train,
        config.model,
        config.train.seed,
        config.objective.selection,
        report,
    )
    return {
        "params": params,
        "history": run.history,
        "chosen_step": int(run.chosen["step"]),
        "test": run.test["full"],
        "test_per_depth": run.test["per_depth"],
        "final": run.final["full"],
        "final_per_depth": run.final["per_depth"],
    }


def _with_study_name(config: ExperimentConfig, experiment: ExperimentFolder) -> ExperimentConfig:
    """``config`` with its Optuna study named: the config's name, else the folder's (a new sweep writes
    it to config.yaml; a folder written before studies were named has none)."""
    name = config.search.study_name or experiment.files.name
    return config.model_copy(update={"search": config.search.model_copy(update={"study_name": name})})


def _study_storage(config: ExperimentConfig, experiment: ExperimentFolder) -> BaseStorage | None:
    """The Optuna study's storage for the sweep in ``experiment``, said in the log."""
    storage = study_storage(config.search.storage, experiment.study_journal(), experiment.location)
    if storage is not None:
        where = redacted(config.search.storage) if config.search.storage else experiment.study_journal()
        log.info("Optuna study %s in %s", config.search.study_name, where)
    return storage


def _check_folder_writable(experiment: ExperimentFolder, command: str) -> None:
    """Refuse a folder on a disk that cannot be written (read-only) before any work, rather than at its
    first write; a folder behind a URI says so at its first upload."""
    if experiment.files.local is not None:
        check_writable(experiment.files.local, f"`sweep {command} {experiment.location}`")


def _connect(config: ExperimentConfig, address: str | None) -> None:
    """Start or join Ray, and refuse trials it could never place (Ray would wait for them forever)."""
    start_ray(address)
    check_resources(
        config.resources.cpu,
        config.resources.gpu,
        config.search.max_concurrent,
        config.cluster.autoscale,
        config.cluster.scale_up_timeout_s,
    )


@contextlib.contextmanager
def _stop_recorded(experiment: ExperimentFolder, meta: ExperimentMeta) -> Iterator[None]:
    """Around the sweep: a signal that stops it is written to experiment.json (``stopped``), so that
    `sweep status` says at once that no driver runs the folder any more, instead of after its files have
    gone unchanged for minutes."""
    try:
        yield
    except signals.Interrupted:
        try:
            experiment.write_meta(meta.model_copy(update={"stopped": [*meta.stopped, now_stamp()]}))
        except Exception as error:  # the exit status and the resumable folder matter more than this note
            log.warning("could not record the stop in %s: %s", experiment, error)
        raise
