"""What an experiment asks for: the YAML file validated into one config, with its search space, objective, arms,
tracking and study-storage settings.

Below every other package; it imports no Ray, Optuna or pandas, so that checking a config costs no start-up.
"""

from __future__ import annotations

from sweep.lazy import exports

# The names other packages use, and the module each lives in.
_PUBLIC = {
    "ArmName": "arms",
    "ARMS": "arms",
    "ATTRIBUTION": "arms",
    "BEST": "arms",
    "COMPARISON_WORDS": "arms",
    "DEFAULTS": "arms",
    "LABELS": "arms",
    "RUN_NAMES": "arms",
    "UNTRAINED": "arms",
    "WORDS": "arms",
    "headline_order": "arms",
    "plan_arms": "arms",
    "searched_trainer_knobs": "arms",
    "ExperimentConfig": "experiment",
    "check_override_keys": "experiment",
    "load_config": "experiment",
    "load_config_text": "experiment",
    "to_yaml": "experiment",
    "ObjectiveConfig": "objective",
    "PICKABLE": "objective",
    "check_objective_depth": "objective",
    "search_metric": "objective",
    "summary": "objective",
    "Param": "search_space",
    "RULES": "search_space",
    "check_depth": "search_space",
    "check_reference_inside": "search_space",
    "first_point": "search_space",
    "trial_params": "search_space",
    "is_url": "study",
    "redacted": "study",
    "TrackingConfig": "tracking",
    "redact": "tracking",
}
__all__, __getattr__ = exports(__name__, _PUBLIC)
