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

from typing import TYPE_CHECKING

from sweep.lazy import exports

# A literal list, so that type checkers and linters see the names imported below for them as this API.
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
    from sweep.config.experiment import load_config
    from sweep.store.folder import load_reports, load_trials
    from sweep.workflow.commands import (
        analyze_experiment,
        report_experiment,
        resume_experiment,
        retrain_experiment,
        run_experiment,
    )


# Lazy, so that `python -m sweep --help` does not import torch and Ray.
_, __getattr__ = exports(
    __name__,
    {
        "load_config": "config.experiment",
        "load_trials": "store.folder",
        "load_reports": "store.folder",
        **dict.fromkeys(
            ("run_experiment", "resume_experiment", "retrain_experiment", "report_experiment", "analyze_experiment"),
            "workflow.commands",
        ),
    },
)
