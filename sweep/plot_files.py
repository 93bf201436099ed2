"""The plot files of an experiment folder and their titles, declared once for the plots and the report."""

from __future__ import annotations

DEPTH, HISTORY, CURVES, PARETO, IMPORTANCE = (
    "plot_depth.png",
    "plot_history.png",
    "plot_learning_curves.png",
    "plot_pareto.png",
    "plot_importance.png",
)
# The report links the plots in this order, then one axis plot per swept parameter.
TITLES = {
    DEPTH: "STS-test quality against depth",
    HISTORY: "Optimisation history",
    CURVES: "Learning curves",
    PARETO: "Pareto front",
    IMPORTANCE: "Parameter importance",
}


def axis_file(key: str) -> str:
    """The axis plot of one swept parameter."""
    return f"plot_axis_{key}.png"


def axis_title(key: str) -> str:
    return f"Axis plot: {key}"
