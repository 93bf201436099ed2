"""The figures of ``sweep analyze``: each function draws one plot from the frames or report.json values.

Matplotlib runs headless (Agg): sweeps run on servers and in CI.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after matplotlib.use: the backend is chosen before pyplot loads
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sweep.config.arms import LABELS
from sweep.config.search_space import Param

SPEARMAN = "Spearman ρ (cosine similarity)"
# One look per status, shared by every plot so a reader learns it once.
STYLE = {
    "completed": {"color": "tab:blue", "marker": "o", "label": "completed"},
    "pruned": {"color": "tab:orange", "marker": "x", "label": "pruned by ASHA"},
    "unfinished": {"color": "tab:gray", "marker": ".", "label": "unfinished"},
}
BEST_COLOR, DEFAULT_COLOR, UNTRAINED_COLOR = "tab:green", "black", "tab:gray"
CURVE_LABELS = {
    "completed": "completed",
    "pruned": "pruned by ASHA (cut at ×)",
    "unfinished": "unfinished (running, or cut by a crash)",
}


def png(figure: Figure) -> bytes:
    """``figure`` as PNG bytes; the figure is freed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _figure(title: str, xlabel: str, ylabel: str, size: tuple[float, float] = (8, 4.8)) -> tuple[Figure, Any]:
    figure, axes = plt.subplots(figsize=size)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    return figure, axes


def _legend(axes: Any, **kwargs: Any) -> None:
    """Outside the plotting area, on the right: a legend never hides a point."""
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, **kwargs)


def history(trials: pd.DataFrame, scored: pd.DataFrame, column: str, label: str) -> Figure:
    """Each trial's best score in the order trials started, the running best, pruned trials marked;
    ``scored`` are the trials with a score in ``column``, the errored ones are counted from ``trials``."""
    xlabel = "trial (in the order started; 0 = reference defaults)"
    figure, axes = _figure(f"Optimisation history: {label}", xlabel, f"best STS-dev {SPEARMAN}")
    for status, style in STYLE.items():
        part = scored[scored["status"] == status]
        if not part.empty:
            axes.scatter(part["trial_index"], part[column], s=45, **style, zorder=3)
    running = scored.sort_values("trial_index")
    axes.step(
        running["trial_index"], running[column].cummax(), where="post", color=BEST_COLOR, label="best so far", zorder=2
    )
    errored = int((trials["status"] == "errored").sum())
    if errored:
        axes.plot([], [], " ", label=f"errored (no score): {errored}")
    axes.xaxis.get_major_locator().set_params(integer=True)
    _legend(axes)
    return figure


def learning_curves(trials: pd.DataFrame, reports: pd.DataFrame, metric: str, label: str, best_id: str) -> Figure:
    """STS-dev against training step for every trial; a pruned trial's line stops with a cross where ASHA cut it."""
    figure, axes = _figure(f"Learning curves: {label}", "training step (batches)", f"STS-dev {SPEARMAN}")
    status = dict(zip(trials["trial_id"], trials["status"], strict=True))
    first = trials["trial_id"].iloc[0] if len(trials) else None
    legend: dict[str, Line2D] = {}
    for trial_id, rows in reports.groupby("trial_id", sort=False):
        kind = status.get(trial_id, "unfinished")
        style = STYLE.get(kind, STYLE["unfinished"])
        color, width, order, name = style["color"], 1.2, 2, str(CURVE_LABELS.get(kind, kind))
        if trial_id == best_id:
            color, width, order = BEST_COLOR, 2.8, 4
            name = "best trial" + (" (the reference defaults)" if trial_id == first else "")
        elif trial_id == first:
            color, width, order, name = DEFAULT_COLOR, 2.2, 3, "reference defaults (trial 0)"
        dashes = "--" if kind == "pruned" else "-"
        (line,) = axes.plot(rows["step"], rows[metric], color=color, lw=width, ls=dashes, marker=".", zorder=order)
        legend.setdefault(name, line)
        if kind == "pruned":
            axes.plot(rows["step"].iloc[-1], rows[metric].iloc[-1], "x", color=color, ms=9, mew=2, zorder=order)
    axes.xaxis.get_major_locator().set_params(integer=True)
    names = sorted(legend, key=lambda n: (not n.startswith("best"), not n.startswith("reference"), n))
    _legend(axes, handles=[legend[n] for n in names], labels=names)
    return figure


def axis(
    scored: pd.DataFrame, key: str, param: Param, column: str, best: pd.Series | None, warning: str | None
) -> Figure:
    """One swept parameter: its value against each scored trial's best score, the retrained trial starred
    (``best`` None: no trial was feasible, none retrained); the searched range drawn as dashed lines."""
    title = f"{key}: value vs best STS-dev" + (f"\n⚠ {warning}" if warning else "")
    figure, axes = _figure(title, f"{key} (searched: {param.describe()})", f"best STS-dev {SPEARMAN}", size=(7, 4.5))
    if warning:
        axes.title.set_color("tab:red")
    categorical = param.kind == "choice"
    position = {value: i for i, value in enumerate(param.values)}

    def where(values: pd.Series) -> Any:
        return values.map(lambda v: position.get(v, np.nan)) if categorical else values

    for status, style in STYLE.items():
        part = scored[scored["status"] == status]
        if not part.empty:
            axes.scatter(where(part[key]), part[column], s=45, alpha=0.8, **style, zorder=3)
    if best is not None:
        best_x = position.get(best[key], np.nan) if categorical else best[key]
        axes.scatter([best_x], [best[column]], marker="*", s=260, color=BEST_COLOR, label="retrained trial", zorder=4)
    if categorical:
        # -1 is n_layers_per_step's "all layers"; say so on the axis.
        axes.set_xticks(range(len(param.values)), ["-1 (all)" if v == -1 else str(v) for v in param.values])
        axes.set_xlim(-0.5, len(param.values) - 0.5)
    else:
        if param.kind == "loguniform":
            axes.set_xscale("log")
        for bound in param.values:
            axes.axvline(bound, color="gray", ls="--", lw=1)
    _legend(axes)
    return figure


def importance(results: list[dict[str, Any]], labels: list[str]) -> Figure:
    """fANOVA importance per parameter as horizontal bars, one group per objective."""
    keys = sorted({k for r in results for k in r["values"]}, key=lambda k: -max(r["values"].get(k, 0) for r in results))
    figure, axes = _figure(
        f"Parameter importance (fANOVA over {results[0]['trials']} completed trials)",
        "share of the score's variance explained",
        "parameter",
        size=(7, 1.2 + 0.5 * max(len(keys), 2)),
    )
    height = 0.8 / len(results)
    for i, (result, label) in enumerate(zip(results, labels, strict=True)):
        offsets = np.arange(len(keys)) + i * height - 0.4 + height / 2
        bars = axes.barh(offsets, [result["values"].get(k, 0) for k in keys], height=height, label=label)
        axes.bar_label(bars, fmt="%.2f", padding=3)
    axes.set_yticks(range(len(keys)), keys)
    axes.invert_yaxis()
    axes.set_xlim(0, 1.1)
    _legend(axes)
    return figure


def depth(report: dict[str, Any]) -> Figure:
    """STS-test spearman_cosine after 1..L layers: every arm of the retrain (the best config, the reference
    defaults, the loss's defaults at the winner's trainer settings, plain MNRL) and the base model."""
    seeds = len(report["seeds"]["retrain"])
    spread = f"mean ± std over {seeds} seeds" if seeds > 1 else "one seed, so no spread over seeds"
    xlabel, ylabel = "layers used (the first d transformer layers)", f"STS-test {SPEARMAN}"
    figure, axes = _figure(f"STS-test quality against depth ({spread})", xlabel, ylabel)
    curves = [("best config", report["test"], BEST_COLOR, "o", -0.04)] if report["test"] else []  # none feasible
    if report["default"]["test"]:
        curves.append(("reference defaults", report["default"]["test"], DEFAULT_COLOR, "s", 0.04))
    arms = report.get("arms", {})
    if "defaults_at_best_trainer" in arms and arms["defaults_at_best_trainer"]["runs_of"] == "defaults_at_best_trainer":
        curves.append(
            (LABELS["defaults_at_best_trainer"], arms["defaults_at_best_trainer"]["test"], "tab:blue", "D", 0.02)
        )
    if "plain" in arms:
        curves.append((LABELS["plain"], arms["plain"]["test"], "tab:orange", "v", -0.02))
    curves.append(("base model, untrained", report["untrained"]["test"], UNTRAINED_COLOR, "^", 0.0))
    for label, test, color, marker, shift in curves:
        layers = np.array(report["depths"]) + shift  # side by side, so the error bars do not overlap
        spreads = test.get("per_layer_std")
        yerr = spreads if spreads and all(v is not None for v in spreads) else None
        axes.errorbar(layers, test["per_layer"], yerr=yerr, color=color, marker=marker, capsize=4, label=label)
    axes.set_xticks(np.arange(1, report["n_layers"] + 1))
    _legend(axes)
    return figure


def pareto(scored: pd.DataFrame, columns: list[str], labels: list[str], front: pd.DataFrame, picked: str) -> Figure:
    """Every completed trial's point on the two objectives (both values from its chosen evaluation), the
    Pareto front joined, the retrained point starred."""
    title = "Pareto front of the completed trials (each point one evaluation)"
    figure, axes = _figure(title, labels[0], labels[1], (7, 5.5))
    for status, style in STYLE.items():
        part = scored[scored["status"] == status]
        if not part.empty:
            axes.scatter(part[columns[0]], part[columns[1]], s=45, alpha=0.7, **style, zorder=3)
    ordered = front.sort_values(columns[0])
    axes.plot(ordered[columns[0]], ordered[columns[1]], color=BEST_COLOR, lw=1.5, label="Pareto front", zorder=2)
    chosen = front[front["trial_id"] == picked]
    axes.scatter(
        chosen[columns[0]], chosen[columns[1]], marker="*", s=300, color=BEST_COLOR, label="retrained", zorder=4
    )
    _legend(axes)
    return figure
