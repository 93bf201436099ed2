"""The experiment folder and what reads it: files local or behind a URI, written atomically, Ray's experiment
state, the trial and report frames, the ranking of trials, the retrain's similarities.

Reads and writes records; starts nothing.
"""

from __future__ import annotations

from sweep.lazy import exports

# The names other packages use, and the module each lives in.
_PUBLIC = {
    "CannotWrite": "disk_faults",
    "EXIT_IO_ERROR": "disk_faults",
    "check_results_dir": "disk_faults",
    "check_writable": "disk_faults",
    "written": "disk_faults",
    "Folder": "files",
    "is_uri": "files",
    "CONFIG_FILE": "folder",
    "CURVES_PLOT": "folder",
    "DEPTH_PLOT": "folder",
    "ExperimentFolder": "folder",
    "HISTORY_PLOT": "folder",
    "IMPORTANCE_PLOT": "folder",
    "META_FILE": "folder",
    "MODEL_DIR": "folder",
    "PARETO_PLOT": "folder",
    "REPORTS_FILE": "folder",
    "REPORT_JSON": "folder",
    "REPORT_MD": "folder",
    "RETRAIN_FILE": "folder",
    "Retrained": "folder",
    "SIMULATE_JSON": "folder",
    "SIMULATE_MD": "folder",
    "SIMULATE_PLOT": "folder",
    "TIME_FORMAT": "folder",
    "TRIALS_FILE": "folder",
    "axis_plot": "folder",
    "config_digest": "folder",
    "load_reports": "folder",
    "load_trials": "folder",
    "now_stamp": "folder",
    "plot_title": "folder",
    "STATUSES": "frames",
    "last_attempt": "frames",
    "params_of": "frames",
    "plain": "frames",
    "report_columns": "frames",
    "scored_trials": "frames",
    "CHOSEN_STEP": "ranking",
    "FEASIBLE": "ranking",
    "FULL_DEPTH": "ranking",
    "NoFeasibleTrialError": "ranking",
    "finite": "ranking",
    "infeasible_line": "ranking",
    "infeasible_reason": "ranking",
    "is_reference": "ranking",
    "none_feasible": "ranking",
    "pareto_front": "ranking",
    "points": "ranking",
    "ranked": "ranking",
    "select_best": "ranking",
    "standings": "ranking",
    "gold_scores": "similarities",
    "similarity_arrays": "similarities",
    "similarity_frame": "similarities",
    "TrialRecord": "tune_state",
    "read_history": "tune_state",
    "read_records": "tune_state",
    "state_files": "tune_state",
}
# Modules other packages use whole.
_MODULES = (
    "atomic",
    "folder",
)
__all__ = sorted([*_PUBLIC, *_MODULES])
__getattr__ = exports(__name__, _PUBLIC, _MODULES)
