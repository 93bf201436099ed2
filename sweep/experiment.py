"""The whole job: validate, sweep, retrain, report. Each step can also be rerun on an experiment folder."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sweep import atomic
from sweep.analysis import analyze_experiment, existing_plots
from sweep.cluster import start_ray
from sweep.config import ExperimentConfig, load_config, to_yaml
from sweep.objective import check_objective_depth, select_best
from sweep.report import REPORT_JSON, REPORT_MD, build_report
from sweep.report_markdown import render_markdown
from sweep.results import REPORTS_FILE, TRIALS_FILE, params_of, read_results
from sweep.retrain import MODEL_DIR, RETRAIN_FILE, retrain
from sweep.search_space import check_depth, check_reference_inside, trial_params
from sweep.tuner import SweepPlan, build_scheduler, build_tuner, max_evaluations, reference_of, smallest_batch
from trainables.data import StsPairs, TrialData, load_sts, load_triplets
from trainables.errors import InputError
from trainables.model import model_depth
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
    results_dir = Path(config.results_dir)
    if results_dir.exists() and not results_dir.is_dir():
        raise InputError(f"results_dir: {config.results_dir} is a file; give a folder")
    space = config.space
    if for_sweep and not any(param.searched for param in space.values()):
        raise InputError("search_space: nothing is searched; give at least one parameter a range or choice")
    n_layers = model_depth(config.model)
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


def run_experiment(config: ExperimentConfig, command: str) -> Path:
    """Sweep, retrain and report; returns the experiment folder."""
    started = time.monotonic()
    prepared = prepare(config)
    config = prepared.config
    log.info("validated the config and loaded the data in %.1fs", time.monotonic() - started)
    start_ray()
    log.info("Ray ready at %.1fs", time.monotonic() - started)
    experiment_dir = _new_experiment_dir(config)
    atomic.write_text(experiment_dir / CONFIG_FILE, to_yaml(config))
    meta = {
        "command": command,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "n_layers": prepared.plan.n_layers,
        "max_evaluations": prepared.plan.max_evaluations,
    }
    atomic.write_json(experiment_dir / META_FILE, meta)
    build_tuner(config, prepared.data, prepared.plan, experiment_dir).fit()
    log.info("sweep finished at %.1fs", time.monotonic() - started)
    # The frames come from the experiment folder: the same reader as load_trials on a live or crashed sweep.
    trials, reports = read_results(experiment_dir)
    atomic.write_parquet(experiment_dir / TRIALS_FILE, trials)
    atomic.write_parquet(experiment_dir / REPORTS_FILE, reports)
    retrain_experiment(experiment_dir, prepared)
    log.info("retrained and reported at %.1fs", time.monotonic() - started)
    return experiment_dir


def retrain_experiment(experiment_dir: Path | str, prepared: Prepared | None = None) -> dict[str, Any]:
    """Retrain the best trial's config and the reference defaults, then write the report and its plots."""
    experiment_dir = Path(experiment_dir)
    if prepared is None:
        prepared = prepare(saved_config(experiment_dir), for_sweep=False)
    trials = pd.read_parquet(_required(experiment_dir, TRIALS_FILE))
    config = prepared.config
    best = params_of(select_best(trials, config.objective))
    default = trial_params(config.space, prepared.plan.reference)
    start_ray()
    outcome = retrain(config, prepared.data, prepared.sts_test, best, default)
    model_files = outcome.pop("model_files")
    atomic.replace_folder(experiment_dir / MODEL_DIR, model_files)
    atomic.write_json(experiment_dir / RETRAIN_FILE, {**outcome, "best_config": best, "default_config": default})
    return analyze_experiment(experiment_dir)["report"]


def report_experiment(experiment_dir: Path | str) -> dict[str, Any]:
    """(Re)write report.json and report.md from trials.parquet and retrain.json."""
    experiment_dir = Path(experiment_dir)
    config = saved_config(experiment_dir)
    meta = json.loads(_required(experiment_dir, META_FILE).read_text())
    trials = pd.read_parquet(_required(experiment_dir, TRIALS_FILE))
    retrained = json.loads(_required(experiment_dir, RETRAIN_FILE).read_text())
    report = build_report(config, trials, retrained, retrained["default_config"], meta["command"], meta["n_layers"])
    report["plots"] = existing_plots(experiment_dir, config)
    atomic.write_json(experiment_dir / REPORT_JSON, report)
    atomic.write_text(experiment_dir / REPORT_MD, render_markdown(report))
    return report


def run_single_trial(config: ExperimentConfig, report=print) -> dict[str, Any]:
    """One training run of one config, no Ray: searched parameters take their reference value."""
    from trainables.training import train_and_test

    prepared = prepare(config, for_sweep=False)
    config = prepared.config
    params = trial_params(config.space, prepared.plan.reference)
    _, history, test = train_and_test(
        params, prepared.data, prepared.sts_test, config.train, config.model, config.train.seed, report
    )
    return {"params": params, "history": history, "test": test["full"], "test_per_depth": test["per_depth"]}


def _new_experiment_dir(config: ExperimentConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(config.results_dir) / f"{config.name}-{stamp}"
    path, n = base, 1
    while path.exists():  # two runs in the same second
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def _required(experiment_dir: Path, name: str) -> Path:
    path = experiment_dir / name
    if not path.is_file():
        raise InputError(f"{experiment_dir}: no {name}; is this an experiment folder of `sweep run`?")
    return path


def saved_config(experiment_dir: Path) -> ExperimentConfig:
    """The resolved config a sweep saved in its folder; InputError when ``experiment_dir`` is not one."""
    if not experiment_dir.is_dir():
        raise InputError(f"{experiment_dir}: not a folder")
    return load_config(_required(experiment_dir, CONFIG_FILE))
