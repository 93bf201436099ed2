"""``report.json``: every number of the experiment's summary, for programs and for ``report.md``.

report.md (see ``sweep.report_markdown``) is rendered from this dict alone, so both always agree.
"""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

from sweep.boundaries import boundary_warnings
from sweep.config import ExperimentConfig
from sweep.importance import importances
from sweep.objective import pareto_front, select_best, summary
from sweep.results import STATUSES, params_of, plain
from sweep.search_space import RULES
from trainables.metrics import METRIC_NAMES

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
LEADERBOARD_SIZE = 10
LOSS = "AdaptiveLayerLoss(MultipleNegativesRankingLoss)"


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
    objective = config.objective
    best = select_best(trials, objective)
    best_config = params_of(best)
    counts = trials["status"].value_counts()
    report: dict[str, Any] = {
        "name": config.name,
        "objective": summary(objective),
        "model": config.model.reference,
        "n_layers": n_layers,
        "depths": list(range(1, n_layers + 1)),  # the rows of test.per_layer: layers used
        "recipe": _recipe(config),
        "scheduler": config.scheduler.model_dump(mode="json"),
        "search_space": _search_space(config, default, best_config),
        "trials": {
            "total": len(trials),
            **{status: int(counts.get(status, 0)) for status in STATUSES},
            "time_s": float(trials["time_s"].fillna(0).sum()),
        },
        "best": {
            "trial_id": str(best["trial_id"]),
            "config": best_config,
            "sts_dev_spearman": float(best["sts_dev_best"]),
            "objective": {column: float(best[column]) for column in objective.columns},
            "status": str(best["status"]),
        },
        "leaderboard": _leaderboard(config, trials),
        "pareto": _pareto(trials, config, str(best["trial_id"])) if objective.target == "pareto" else None,
        "importance": importances(config, trials),
        "boundary_warnings": boundary_warnings(config.space, best_config),
        "test": summarise_runs(retrained["best"]),
        "default": {"config": default, "test": summarise_runs(retrained["default"]) if retrained["default"] else None},
        "default_is_best": bool(retrained["default_is_best"]),
        "seeds": list(config.retrain.seeds),
        "model_path": "best_model",
        "command": command,
        "plots": [],
    }
    return report


def _recipe(config: ExperimentConfig) -> dict[str, Any]:
    """What every trial shares: the loss, the data and the fixed training settings."""
    return {
        "loss": LOSS,
        "data": {split: source.model_dump(mode="json") for split, source in config.data},
        "train": config.train.model_dump(mode="json"),
    }


def _search_space(config: ExperimentConfig, default: dict[str, Any], best: dict[str, Any]) -> list[dict[str, Any]]:
    """Every parameter: what was searched, its reference default, the best value and what it does."""
    space = config.space
    return [
        {
            "param": key,
            "searched": space[key].describe() if key in space and space[key].searched else None,
            "default": default[key],
            "best": best[key],
            "role": rule.meaning,
        }
        for key, rule in RULES.items()
    ]


def _leaderboard(config: ExperimentConfig, trials: pd.DataFrame) -> list[dict[str, Any]]:
    """The top trials by the (first) objective, with the values of the swept parameters."""
    column = config.objective.columns[0]
    searched = [key for key, param in config.space.items() if param.searched]
    ranked = trials[trials[column].notna()].sort_values(column, ascending=False).head(LEADERBOARD_SIZE)
    return [
        {
            "trial_id": str(row["trial_id"]),
            "status": str(row["status"]),
            **{c: float(row[c]) for c in config.objective.columns},
            "steps": int(row["steps"]),
            "params": {key: plain(row[key]) for key in searched},
        }
        for _, row in ranked.iterrows()
    ]


def _pareto(trials: pd.DataFrame, config: ExperimentConfig, picked: str) -> dict[str, Any]:
    columns = config.objective.columns
    front = pareto_front(trials, config.objective)
    return {
        "pick": config.objective.pick,
        "picked": picked,
        "front": [
            {"trial_id": str(row["trial_id"]), **{c: float(row[c]) for c in columns}} for _, row in front.iterrows()
        ],
    }
