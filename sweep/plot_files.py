"""The plot files of an experiment folder and their titles, declared once for the plots and the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sweep.config import ExperimentConfig
    from sweep.storage import Folder

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


def existing_plots(folder: Folder, config: ExperimentConfig) -> list[dict[str, str]]:
    """The plots in the folder, in reading order, for the report to link."""
    names = [*TITLES.items()]
    names += [(axis_file(key), axis_title(key)) for key, param in config.space.items() if param.searched]
    return [{"file": name, "title": title} for name, title in names if folder.is_file(name)]
