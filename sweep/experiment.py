"""The whole job: validate, sweep, retrain, report. Each step can also be rerun on an experiment folder."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweep.cluster import check_resources, start_ray
from sweep.config import ExperimentConfig, load_config_text, to_yaml
from sweep.objective import check_objective_depth, select_best
from sweep.plot_files import existing_plots
from sweep.report import REPORT_JSON, REPORT_MD, build_report
from sweep.report_markdown import render_markdown
from sweep.results import REPORTS_FILE, TRIALS_FILE, params_of, read_results
from sweep.resume import plan_resume
from sweep.retrain import MODEL_DIR, RETRAIN_FILE, SIMILARITIES_FILE, retrain
from sweep.search_space import check_depth, check_reference_inside, trial_params
from sweep.searcher import Warmstart
from sweep.storage import Folder
from sweep.tuner import (
    SweepPlan,
    build_scheduler,
    build_tuner,
    max_evaluations,
    reference_of,
    smallest_batch,
)
from trainables.data import StsPairs, TrialData, load_sts, load_triplets
from trainables.errors import InputError
from trainables.model import model_depth
from trainables.model_support import check_supported
from trainables.quiet import quiet_libraries

log = logging.getLogger("sweep")
CONFIG_FILE = "config.yaml"
META_FILE = "experiment.json"


@dataclass(frozen=True)
class Prepared:
    """A validated experiment with its data loaded: nothing can fail for bad input after this."""

    config: ExperimentConfig
    data: TrialData
    sts_test: StsPairs
    plan: SweepPlan


def prepare(config: ExperimentConfig, for_sweep: bool = True) -> Prepared:
    """Check everything that can be checked before a trial starts, and load the data once.

    Raises InputError for anything a user can fix: a missing model or data file, a search space the
    model cannot support, an empty split, a scheduler that does not fit the budget.
    """
    quiet_libraries()
    config = config.model_copy(update={"model": config.model.resolved(), "data": config.data.resolved()})
    if for_sweep and Folder(config.results_dir).kind() == "file":
        raise InputError(f"results_dir: {config.results_dir} is a file; give a folder")
    space = config.space
    if for_sweep and not any(param.searched for param in space.values()):
        raise InputError("search_space: nothing is searched; give at least one parameter a range or choice")
    n_layers = model_depth(config.model)
    check_supported(config.model)
    check_depth(space, n_layers)
    check_objective_depth(config.objective, n_layers)
    reference = reference_of(config)
    check_reference_inside(space, reference)
    train_rows = load_triplets(config.data.train, "data.train")
    sts_dev = load_sts(config.data.sts_dev, "data.sts_dev")
    sts_test = load_sts(config.data.sts_test, "data.sts_test")
    smallest = smallest_batch(config)
    if len(train_rows) < smallest:
        raise InputError(f"data.train: {len(train_rows)} rows is fewer than one batch of {smallest}")
    plan = SweepPlan(n_layers, max_evaluations(config, len(train_rows)), reference)
    if for_sweep:
        build_scheduler(config, plan.max_evaluations)  # raises InputError for a grace period beyond the budget
    return Prepared(config, TrialData(train_rows, sts_dev), sts_test, plan)


def run_experiment(config: ExperimentConfig, command: str, address: str | None = None) -> Path | str:
    """Sweep, retrain and report; returns the experiment folder (a URI where results_dir is one)."""
    started = time.monotonic()
    prepared = prepare(config)
    config = prepared.config
    log.info("validated the config and loaded the data in %.1fs", time.monotonic() - started)
    _connect(config, address)
    log.info("Ray ready at %.1fs", time.monotonic() - started)
    folder = _new_experiment_folder(config)
    folder.write_text(CONFIG_FILE, to_yaml(config))
    meta = {
        "command": command,
        "created": _now(),
        "n_layers": prepared.plan.n_layers,
        "max_evaluations": prepared.plan.max_evaluations,
        "superseded": [],
    }
    folder.write_json(META_FILE, meta)
    _sweep(folder, prepared, meta)
    log.info("sweep finished at %.1fs", time.monotonic() - started)
    retrain_experiment(folder, prepared)
    log.info("retrained and reported at %.1fs", time.monotonic() - started)
    return folder.local or folder.location


def resume_experiment(location: str | Path, address: str | None = None) -> dict[str, Any]:
    """Finish a sweep whose driver died: the rest of the sweep, then retrain and report as usual."""
    folder = Folder(location)
    config = saved_config(folder)
    meta = folder.read_json(_required(folder, META_FILE))
    if folder.is_file(REPORT_JSON):
        log.info("%s is finished already; rewriting its report", folder)
        return report_experiment(folder)
    prepared = prepare(config, for_sweep=False)
    _connect(prepared.config, address)
    if not folder.is_file(TRIALS_FILE):
        plan = plan_resume(folder, prepared.config, meta.get("superseded", []))
        log.info(
            "resuming %s: %d finished trials kept, %d interrupted rerun, %d left to run",
            folder,
            plan.kept,
            len(plan.superseded) - len(meta.get("superseded", [])),
            plan.left,
        )
        # Recorded before the rerun starts, so a crash during the resume leaves a resumable folder.
        meta = {**meta, "superseded": plan.superseded, "resumed": [*meta.get("resumed", []), _now()]}
        folder.write_json(META_FILE, meta)
        _sweep(folder, prepared, meta, plan.warmstart, skip=plan.left == 0)
    return retrain_experiment(folder, prepared)


def _sweep(
    folder: Folder, prepared: Prepared, meta: dict[str, Any], warmstart: Warmstart | None = None, skip: bool = False
) -> None:
    """Run the Tuner (unless nothing is left to run), then write trials.parquet and reports.parquet."""
    if not skip:
        build_tuner(prepared.config, prepared.data, prepared.plan, folder, warmstart).fit()
    # The same reader as load_trials on a live or crashed sweep, so the saved frames cannot drift from it.
    trials, reports = read_results(folder, meta.get("superseded", []))
    folder.write_parquet(REPORTS_FILE, reports)
    folder.write_parquet(TRIALS_FILE, trials)  # last: its presence marks the sweep as finished


def retrain_experiment(
    location: Folder | Path | str, prepared: Prepared | None = None, address: str | None = None
) -> dict[str, Any]:
    """Retrain the best trial's config and the reference defaults, then write the report and its plots."""
    folder = location if isinstance(location, Folder) else Folder(location)
    if prepared is None:
        prepared = prepare(saved_config(folder), for_sweep=False)
    trials = folder.read_parquet(_required(folder, TRIALS_FILE))
    reports = folder.read_parquet(_required(folder, REPORTS_FILE))
    config = prepared.config
    best = params_of(select_best(trials, reports, config.objective))
    default = trial_params(config.space, prepared.plan.reference)
    _connect(config, address)
    outcome = retrain(config, prepared.data, prepared.sts_test, best, default)
    folder.replace_folder(MODEL_DIR, outcome.pop("model_files"))
    folder.write_parquet(SIMILARITIES_FILE, outcome.pop("similarities"))
    # Last: its presence marks the retrain as done, the model and the similarities beside it.
    folder.write_json(RETRAIN_FILE, {**outcome, "best_config": best, "default_config": default})
    # Imported here: only the plots after the sweep need matplotlib, and the driver need not load it before.
    from sweep.analysis import analyze_experiment

    return analyze_experiment(folder)["report"]


def report_experiment(location: Folder | Path | str) -> dict[str, Any]:
    """(Re)write report.json and report.md from trials.parquet and retrain.json."""
    folder = location if isinstance(location, Folder) else Folder(location)
    config = saved_config(folder)
    meta = folder.read_json(_required(folder, META_FILE))
    trials = folder.read_parquet(_required(folder, TRIALS_FILE))
    reports = folder.read_parquet(_required(folder, REPORTS_FILE))
    retrained = folder.read_json(_required(folder, RETRAIN_FILE))
    if not folder.is_file(SIMILARITIES_FILE):
        raise InputError(f"{folder}: no {SIMILARITIES_FILE} beside {RETRAIN_FILE}; rerun `sweep retrain {folder}`")
    similarities = folder.read_parquet(SIMILARITIES_FILE)
    report = build_report(config, trials, reports, retrained, similarities, meta["command"], meta["n_layers"])
    report["plots"] = existing_plots(folder, config)
    folder.write_json(REPORT_JSON, report)
    folder.write_text(REPORT_MD, render_markdown(report))
    return report


def run_single_trial(config: ExperimentConfig, report=print) -> dict[str, Any]:
    """One training run of one config, no Ray: searched parameters take their reference value. STS-test
    scores the weights a retrain would deliver (the best evaluation by the objective) and the last ones."""
    from trainables.training import train_and_deliver

    prepared = prepare(config, for_sweep=False)
    config = prepared.config
    params = trial_params(config.space, prepared.plan.reference)
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


def _new_experiment_folder(config: ExperimentConfig) -> Folder:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = Folder(config.results_dir)
    name, n = f"{config.name}-{stamp}", 1
    while results.exists(name):  # two runs in the same second
        n += 1
        name = f"{config.name}-{stamp}-{n}"
    folder = results.child(name)
    folder.make()
    return folder


def _connect(config: ExperimentConfig, address: str | None) -> None:
    """Start or join Ray, and refuse trials it could never place (Ray would wait for them forever)."""
    start_ray(address)
    check_resources(config.resources.cpu, config.resources.gpu, config.search.max_concurrent)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _required(folder: Folder, name: str) -> str:
    if not folder.is_file(name):
        raise InputError(f"{folder}: no {name}; is this an experiment folder of `sweep run`?")
    return name


def saved_config(location: Folder | Path | str) -> ExperimentConfig:
    """The resolved config a sweep saved in its folder; InputError when ``location`` is not one."""
    folder = location if isinstance(location, Folder) else Folder(location)
    if folder.kind() != "folder":
        raise InputError(f"{folder}: not a folder")
    text = folder.read_text(_required(folder, CONFIG_FILE))
    return load_config_text(text, f"{folder}/{CONFIG_FILE}")
