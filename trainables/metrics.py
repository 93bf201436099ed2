"""Metric names, declared once: the sweep's objective and the model card's STS metric set."""

from __future__ import annotations

import re

# The sweep's objective, declared once: full-depth STS-dev Spearman of cosine similarity, maximised.
OBJECTIVE = "sts_dev_spearman_cosine"
MODE = "max"
# The key the PASHA scheduler adds to the report at which it ranked a trial at its top rung.
RANKED = "ranked"
# Report column that names why a trial stopped itself (a non-finite loss); absent on healthy rows.
FAILURE = "failure"
# Mean of spearman_cosine over depths 1..L: one number for "good at every depth", an objective option.
MEAN_DEPTH = "sts_dev_spearman_cosine_mean_depth"
# Where a run's wall time goes (see trainables.step_clock), on every report row.
TIMING_COLUMNS = ("run_started_at", "first_step_at", "last_step_at", "reported_at", "step_time_s", "eval_time_s")
SIMILARITIES = ("cosine", "manhattan", "euclidean", "dot")
# The model card's metric set, in its order.
METRIC_NAMES = (
    *(f"{kind}_{sim}" for sim in SIMILARITIES for kind in ("pearson", "spearman")),
    "pearson_max",
    "spearman_max",
)


def depth_metric(depth: int, prefix: str = "sts_dev") -> str:
    """Name of spearman_cosine after ``depth`` transformer layers."""
    return f"{prefix}_spearman_cosine_depth_{depth}"


# A per-depth metric's name, its depth captured.
DEPTH_METRIC = re.compile(re.escape(depth_metric(0)).replace("0", r"(\d+)") + "$")


def best_column(metric: str) -> str:
    """The trials column holding a trial's best value of a reported STS-dev metric."""
    depth = DEPTH_METRIC.match(metric)
    if depth:
        return f"sts_dev_best_depth_{depth.group(1)}"
    return {OBJECTIVE: "sts_dev_best", MEAN_DEPTH: "sts_dev_best_mean_depth"}[metric]
