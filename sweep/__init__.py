"""Adaptive-layer hyperparameter sweeps on Ray Tune.

Python API (the command line calls the same functions)::

    from sweep import load_config, run_experiment, load_trials, load_reports, analyze_experiment
    config = load_config("search_spaces/smoke.yaml", ["search.num_samples=8"])
    result = run_experiment(config, command="...")  # ExperimentResult: location, report, plots
    trials = load_trials(result.location)    # pandas DataFrame, one row per trial (also while a sweep runs)
    reports = load_reports(result.location)  # one row per STS-dev evaluation, every depth
    analyze_experiment(result.location)      # the plots (and the report once retrained), redrawn
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "analyze_experiment",
    "load_config",
    "load_reports",
    "load_trials",
    "report_experiment",
    "resume_experiment",
    "retrain_experiment",
    "run_experiment",
]

if TYPE_CHECKING:
    from sweep.config import load_config
    from sweep.experiment import (
        analyze_experiment,
        report_experiment,
        resume_experiment,
        retrain_experiment,
        run_experiment,
    )
    from sweep.experiment_folder import load_reports, load_trials


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m sweep --help` does not import torch and Ray.
    if name == "load_config":
        from sweep.config import load_config

        return load_config
    if name in ("load_trials", "load_reports"):
        from sweep import experiment_folder

        return getattr(experiment_folder, name)
    if name in ("run_experiment", "resume_experiment", "retrain_experiment", "report_experiment", "analyze_experiment"):
        from sweep import experiment

        return getattr(experiment, name)
    raise AttributeError(name)
