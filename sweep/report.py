"""``report.json`` (for programs) and ``report.md`` (for people) from the trials and the retrain."""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

from sweep.config import ExperimentConfig
from sweep.results import STATUSES, best_trial, params_of
from sweep.search_space import RULES
from trainables.metrics import METRIC_NAMES, OBJECTIVE

REPORT_JSON = "report.json"
REPORT_MD = "report.md"


def _mean(values: list[float]) -> float:
    return float(statistics.fmean(values))


def _std(values: list[float]) -> float:
    return float(statistics.stdev(values)) if len(values) > 1 else 0.0


def summarise_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over seeds of the STS-test metrics, and the per-depth curve."""
    per_seed = [{"seed": run["seed"], **run["test"], "per_layer": run["test_per_depth"]} for run in runs]
    depths = len(runs[0]["test_per_depth"])
    return {
        "spearman_cosine": _mean([run["test"]["spearman_cosine"] for run in runs]),
        "mean": {name: _mean([run["test"][name] for run in runs]) for name in METRIC_NAMES},
        "std": {name: _std([run["test"][name] for run in runs]) for name in METRIC_NAMES},
        "per_seed": per_seed,
        "per_layer": [_mean([run["test_per_depth"][d] for run in runs]) for d in range(depths)],
        "per_layer_std": [_std([run["test_per_depth"][d] for run in runs]) for d in range(depths)],
    }


def build_report(
    config: ExperimentConfig,
    trials: pd.DataFrame,
    retrained: dict[str, Any],
    default: dict[str, Any],
    command: str,
    n_layers: int,
) -> dict[str, Any]:
    """The report.json contents (see the README for every key)."""
    best = best_trial(trials)
    counts = trials["status"].value_counts()
    report: dict[str, Any] = {
        "name": config.name,
        "objective": {"metric": OBJECTIVE, "mode": "max"},
        "model": config.model.reference,
        "n_layers": n_layers,
        "trials": {"total": len(trials), **{status: int(counts.get(status, 0)) for status in STATUSES}},
        "best": {
            "trial_id": str(best["trial_id"]),
            "config": params_of(best),
            "sts_dev_spearman": float(best["sts_dev_best"]),
            "status": str(best["status"]),
        },
        "test": summarise_runs(retrained["best"]),
        "default": {"config": default, "test": summarise_runs(retrained["default"]) if retrained["default"] else None},
        "default_is_best": bool(retrained["default_is_best"]),
        "seeds": list(config.retrain.seeds),
        "model_path": "best_model",
        "command": command,
    }
    return report


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def render_markdown(report: dict[str, Any], config: ExperimentConfig, trials: pd.DataFrame) -> str:
    """A short model-card-like summary; every number is taken from ``report``."""
    best, default = report["test"], report["default"]["test"]
    seeds = ", ".join(str(s) for s in report["seeds"])
    lines = [
        f"# Adaptive-layer sweep: {report['name']}",
        "",
        f"Base model: {report['model']}, {report['n_layers']} layers. Objective: {report['objective']['metric']} "
        f"({report['objective']['mode']}), STS-dev, full depth. Retrained on the full budget with seeds {seeds}.",
        "",
        "Reproduce:",
        "",
        "```",
        report["command"],
        "```",
        "",
        "## Trials",
        "",
        "| total | completed | pruned | errored |",
        "|---|---|---|---|",
        "| {total} | {completed} | {pruned} | {errored} |".format(**report["trials"]),
        "",
        "## Search space",
        "",
        "| parameter | searched over | reference default | best | role |",
        "|---|---|---|---|---|",
    ]
    space = config.space
    for key, rule in RULES.items():
        searched = space[key].describe() if key in space else "(not swept)"
        lines.append(
            f"| `{key}` | `{searched}` | `{report['default']['config'][key]}` | "
            f"`{_short(report['best']['config'][key])}` | {rule.meaning} |"
        )
    lines += [
        "",
        f"Best trial `{report['best']['trial_id']}` ({report['best']['status']}): best STS-dev spearman_cosine "
        f"{_fmt(report['best']['sts_dev_spearman'])}.",
        "",
        "## STS-test (×100, mean ± std over seeds)",
        "",
        "| metric | best config | reference defaults |",
        "|---|---|---|",
    ]
    for name in METRIC_NAMES:
        right = f"{_fmt(default['mean'][name])} ± {_fmt(default['std'][name])}" if default else "–"
        lines.append(f"| {name} | {_fmt(best['mean'][name])} ± {_fmt(best['std'][name])} | {right} |")
    lines += ["", "## STS-test spearman_cosine by depth (×100, mean over seeds)", ""]
    lines.append("| layers | best config | reference defaults |")
    lines.append("|---|---|---|")
    for depth, value in enumerate(best["per_layer"], start=1):
        right = _fmt(default["per_layer"][depth - 1]) if default else "–"
        lines.append(f"| {depth} | {_fmt(value)} | {right} |")
    if report["default_is_best"]:
        lines += ["", "The best config is the reference defaults, so both columns come from the same runs."]
    lines += ["", "## Leaderboard (top 10 by best STS-dev)", ""]
    lines += _leaderboard(trials)
    lines += ["", "Files: `trials.parquet`, `reports.parquet`, `report.json`, `best_model/`, `config.yaml`.", ""]
    return "\n".join(lines)


def _leaderboard(trials: pd.DataFrame) -> list[str]:
    searched = [c for c in RULES if trials[c].nunique(dropna=False) > 1]
    top = trials.sort_values("sts_dev_best", ascending=False, na_position="last").head(10)
    header = ["trial", "status", "best STS-dev", "steps", *searched]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in top.iterrows():
        cells = [str(row["trial_id"]), row["status"], _fmt(row["sts_dev_best"]), str(row["steps"])]
        rows.append("| " + " | ".join(cells + [_short(row[c]) for c in searched]) + " |")
    return rows


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
