"""The validated search space in Ray Tune's terms: the ``param_space`` the Tuner samples from."""

from __future__ import annotations

from typing import Any

from ray import tune

from sweep.config.search_space import Param, trial_params


def param_space(space: dict[str, Param], reference: dict[str, Any]) -> dict[str, Any]:
    """The ``param_space`` for ``tune.Tuner``: every parameter, as a Tune domain where it is searched."""
    params: dict[str, Any] = trial_params(space, reference)
    for key, param in space.items():
        params[key] = tune_domain(param)
    return params


def tune_domain(param: Param) -> Any:
    """The Ray Tune domain (or constant) for one entry."""
    if not param.searched:
        return param.values[0]
    if param.kind == "uniform":
        return tune.uniform(*param.values)
    if param.kind == "loguniform":
        return tune.loguniform(*param.values)
    if param.kind == "int":
        return tune.randint(param.values[0], param.values[1] + 1)  # the YAML range is inclusive
    return tune.choice(list(param.values))
