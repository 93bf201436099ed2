"""The Ray Tune run: the search space in Tune's terms, the Optuna searcher and its study, the schedulers, the
Tuner.
"""

from __future__ import annotations

from sweep.lazy import exports

# The names other packages use, and the module each lives in.
_PUBLIC = {
    "NO_CONTROLLER": "rungs",
    "ReplayedTrial": "rungs",
    "Reported": "rungs",
    "prime": "rungs",
    "build_scheduler": "schedulers",
    "ranked": "schedulers",
    "SweepSearch": "searcher",
    "Told": "searcher",
    "Warmstart": "searcher",
    "build_searcher": "searcher",
    "shortfall": "searcher",
    "told": "searcher",
    "param_space": "space",
    "RAY_TRIAL_ID": "study",
    "open_storage": "study",
    "study_exists": "study",
    "study_storage": "study",
    "SweepPlan": "tuner",
    "build_plateau": "tuner",
    "max_evaluations": "tuner",
    "smallest_batch": "tuner",
    "tuner_spec": "tuner",
}
__all__, __getattr__ = exports(__name__, _PUBLIC)
