"""The commands' flows, from a config to a finished folder: run, trial, resume, retrain, report and analyze."""

from __future__ import annotations

from sweep.lazy import exports

# The names other packages use, and the module each lives in.
_PUBLIC = {
    "analyze_experiment": "commands",
    "prepare": "commands",
    "report_experiment": "commands",
    "resume_experiment": "commands",
    "retrain_experiment": "commands",
    "run_experiment": "commands",
    "run_single_trial": "commands",
    "ExperimentResult": "finish",
    "retrain": "retrain",
}
# Modules other packages use whole.
_MODULES = ("commands",)
__all__, __getattr__ = exports(__name__, _PUBLIC, _MODULES)
