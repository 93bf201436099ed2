"""``sweep analyze``: the plots people decide from, written next to the report and linked from report.md.

Works on a sweep that is still running or crashed too (the plots of the sweep itself); the depth plot
and the report need the retrain, which only a finished sweep has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sweep import plots
from sweep.boundaries import boundary_warnings
from sweep.config import ExperimentConfig
from sweep.importance import importances
from sweep.objective import pareto_front, points, ranked
from sweep.plot_files import CURVES, DEPTH, HISTORY, IMPORTANCE, PARETO, axis_file
from sweep.results import read_results
from sweep.storage import Folder


def write_plots(
    folder: Folder, config: ExperimentConfig, trials: pd.DataFrame, reports: pd.DataFrame, report: dict | None
) -> list[str]:
    """Draw every plot that the folder's data allows; returns the files written."""
    objective = config.objective
    column, metric = objective.columns[0], objective.metrics[0]
    label = objective.labels[0]
    written: list[str] = []

    def keep(name: str, figure: Any) -> None:
        folder.write_bytes(name, plots.png(figure))
        written.append(name)

    if report is not None:
        keep(DEPTH, plots.depth(report))
    if trials.empty:
        return written
    scored = trials[trials["status"] != "errored"].dropna(subset=objective.columns)
    candidates = ranked(points(trials, reports, objective), objective)  # the completed trials, best first
    best = candidates.iloc[0] if not candidates.empty else None
    keep(HISTORY, plots.history(trials, column, label))
    if not reports.empty:
        best_id = str(best["trial_id"]) if best is not None else ""
        keep(CURVES, plots.learning_curves(trials, reports, metric, label, best_id))
    if objective.target == "pareto" and best is not None:
        front = pareto_front(candidates, objective)
        figure = plots.pareto(candidates, objective.metrics, objective.labels, front, str(best["trial_id"]))
        keep(PARETO, figure)
    results = importances(config, candidates)
    if any(r["values"] for r in results):
        keep(IMPORTANCE, plots.importance(results, objective.metrics))
    if best is not None:
        warned = {w["param"]: w["text"] for w in boundary_warnings(config.space, best)}
        for key, param in config.space.items():
            if param.searched:
                figure = plots.axis(scored, key, param, column, best, warned.get(key))
                keep(axis_file(key), figure)
    return written


def analyze_experiment(location: Folder | Path | str) -> dict[str, Any]:
    """Write the plots of an experiment folder and, once it has a retrain, rewrite the report linking them.

    Returns ``{"plots": [...], "report": report dict or None}``.
    """
    from sweep.experiment import report_experiment, saved_config
    from sweep.retrain import RETRAIN_FILE

    folder = location if isinstance(location, Folder) else Folder(location)
    config = saved_config(folder)
    trials, reports = read_results(folder)
    report = None
    if folder.is_file(RETRAIN_FILE):
        report = report_experiment(folder)  # numbers first: the depth plot draws report.json's values
    written = write_plots(folder, config, trials, reports, report)
    if report is not None:
        report = report_experiment(folder)  # now linking the plots just written
    return {"plots": written, "report": report}
