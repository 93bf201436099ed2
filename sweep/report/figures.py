"""The plots people decide from, written next to the report and linked from report.md.

They can be drawn for a sweep that is still running or crashed too (the plots of the sweep itself);
the depth plot needs the report, which only a retrained sweep has.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sweep.config.experiment import ExperimentConfig
from sweep.report.boundaries import boundary_warnings
from sweep.report.importance import importances
from sweep.store.folder import (
    CURVES_PLOT,
    DEPTH_PLOT,
    HISTORY_PLOT,
    IMPORTANCE_PLOT,
    PARETO_PLOT,
    ExperimentFolder,
    axis_plot,
)
from sweep.store.frames import scored_trials
from sweep.store.ranking import none_feasible, pareto_front


def draw_plots(
    experiment: ExperimentFolder,
    config: ExperimentConfig,
    trials: pd.DataFrame,
    reports: pd.DataFrame,
    standings: pd.DataFrame,
    report: dict[str, Any] | None,
) -> list[str]:
    """Draw every plot the data allows into the folder, in the order report.md links them; returns the
    files written. ``standings`` are the pickable trials best first; ``report`` (None before the retrain)
    gives the depth curves and the parameter importances already computed for it."""
    # Imported here: only the plots after the sweep need matplotlib, and the driver need not load it before.
    from sweep.report import plots

    objective = config.objective
    column, metric = objective.columns[0], objective.metrics[0]
    label = objective.labels[0]
    written: list[str] = []

    def keep(name: str, figure: Any) -> None:
        experiment.write_plot(name, plots.png(figure))
        written.append(name)

    if report is not None:
        keep(DEPTH_PLOT, plots.depth(report))
    if trials.empty:
        return written
    # The winner, starred in the plots; none where no trial is feasible (feasible ones rank first).
    best = standings.iloc[0] if not standings.empty and not none_feasible(standings) else None
    keep(HISTORY_PLOT, plots.history(trials, scored_trials(trials, [column]), column, label))
    if not reports.empty:
        best_id = str(best["trial_id"]) if best is not None else ""
        keep(CURVES_PLOT, plots.learning_curves(trials, reports, metric, label, best_id))
    if objective.target == "pareto" and best is not None:
        front = pareto_front(standings, objective)
        scored = scored_trials(standings, objective.metrics)
        figure = plots.pareto(scored, objective.metrics, objective.labels, front, str(best["trial_id"]))
        keep(PARETO_PLOT, figure)
    results = report["importance"] if report is not None else importances(config, standings)
    if any(r["values"] for r in results):
        keep(IMPORTANCE_PLOT, plots.importance(results, objective.metrics))
    if not standings.empty:
        warned = {w["param"]: w["text"] for w in boundary_warnings(config.space, best)} if best is not None else {}
        scored = scored_trials(trials, objective.columns)
        for key, param in config.space.items():
            if param.searched:
                keep(axis_plot(key), plots.axis(scored, key, param, column, best, warned.get(key)))
    return written
