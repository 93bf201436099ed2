"""Warn when the best value of a searched range sits near one of its bounds: the optimum may lie outside,
so the range should grow that way (the tuning playbook's boundary check)."""

from __future__ import annotations

import math
from typing import Any

from sweep.config.search_space import RULES, Param

EDGE = 0.1  # within this share of the range from a bound (on a log scale for loguniform) counts as near


def boundary_warnings(space: dict[str, Param], best: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per searched range whose best value is near a bound; choices have no bounds to check."""
    warnings = []
    for key, param in space.items():
        if not param.searched or param.kind == "choice":
            continue
        low, high, value = float(param.values[0]), float(param.values[1]), float(best[key])
        scale = math.log if param.kind == "loguniform" else float
        share = (scale(value) - scale(low)) / (scale(high) - scale(low))
        side = "lower" if share <= EDGE else "upper" if share >= 1 - EDGE else None
        if side:
            bound = low if side == "lower" else high
            limit = RULES[key].low if side == "lower" else RULES[key].high
            advice = f"{key} cannot go past it" if limit == bound else "consider widening the range"
            warnings.append(
                {
                    "param": key,
                    "value": value,
                    "bound": bound,
                    "side": side,
                    "text": f"best value {value:.4g} is near the {side} bound {bound:g}; {advice}",
                }
            )
    return warnings
