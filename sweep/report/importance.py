"""Parameter importance: Optuna's fANOVA evaluator on the completed trials, each scored by its chosen
evaluation (``sweep.store.ranking.points``), as the winner is picked.

Pruned trials are left out: their scores come from a shorter run, so they would credit whatever made a
trial slow to start rather than what made it good.
"""

from __future__ import annotations

from typing import Any

import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from sweep.config.experiment import ExperimentConfig
from sweep.config.search_space import Param
from sweep.store.frames import plain

MIN_TRIALS = 4  # below this a random forest over the trials explains noise, not parameters
SEED = 0  # fANOVA's forest is random; a fixed seed makes report.json reproducible


def distribution(param: Param) -> BaseDistribution:
    """The Optuna distribution matching a searched search-space entry."""
    if param.kind == "uniform":
        return FloatDistribution(*param.values)
    if param.kind == "loguniform":
        low, high = param.values
        return FloatDistribution(low, high, log=True)
    if param.kind == "int":
        return IntDistribution(*param.values)
    return CategoricalDistribution(list(param.values))


def param_importance(trials: pd.DataFrame, space: dict[str, Param], column: str) -> dict[str, Any]:
    """fANOVA importance of each searched parameter for ``column`` over the completed trials of ``trials``.

    Returns ``{"method", "trials", "values": {param: share}, "note"}``; ``values`` is empty and ``note``
    says why when there are too few trials or parameters to say anything.
    """
    searched = {key: distribution(param) for key, param in space.items() if param.searched}
    finished = trials[(trials["status"] == "completed") & trials[column].notna()]
    result: dict[str, Any] = {"method": "fanova", "metric": column, "trials": len(finished), "values": {}, "note": None}
    if len(searched) < 2:
        result["note"] = "only one parameter is swept, so it explains all the variation there is"
        return result
    if len(finished) < MIN_TRIALS:
        result["note"] = f"{len(finished)} completed trials are too few for fANOVA (it needs {MIN_TRIALS})"
        return result
    if finished[column].nunique() < 2:
        result["note"] = "every completed trial scored the same, so there is no variance to explain"
        return result
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created" line in the CLI output
    study = optuna.create_study(direction="maximize")
    for _, row in finished.iterrows():
        params = {key: plain(row[key]) for key in searched}
        study.add_trial(optuna.trial.create_trial(value=float(row[column]), params=params, distributions=searched))
    values = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=SEED)
    )
    result["values"] = {key: float(value) for key, value in values.items()}
    return result


def importances(config: ExperimentConfig, candidates: pd.DataFrame) -> list[dict[str, Any]]:
    """fANOVA importance for each objective's score (one for a single objective, two for pareto), over
    ``points`` (each completed trial's chosen evaluation)."""
    return [param_importance(candidates, config.space, metric) for metric in config.objective.metrics]
