"""6. Does the sweep find better settings: STS-test of the best config vs the reference defaults.

Read from the shared recipe sweep's report: both configs retrained on the full budget with every
seed, spearman_cosine at full depth and at every depth, mean and spread over the seeds.
"""

from __future__ import annotations

import json

import pandas as pd

from benchmarks.record import Outcome
from benchmarks.session import Session


def run(session: Session) -> Outcome:
    sweep = session.recipe_sweep()
    report = sweep.report
    best, default = report["test"], report["default"]["test"]
    depths = len(best["per_layer"])
    rows = [
        {
            "depth": depth,
            "best_mean": best["per_layer"][depth - 1],
            "best_std": best["per_layer_std"][depth - 1],
            "default_mean": default["per_layer"][depth - 1],
            "default_std": default["per_layer_std"][depth - 1],
        }
        for depth in range(1, depths + 1)
    ]
    table = pd.DataFrame(rows)
    table["best_minus_default"] = table["best_mean"] - table["default_mean"]
    gain = best["spearman_cosine"] - default["spearman_cosine"]
    seeds = report["seeds"]
    depth_wins = int((table["best_minus_default"] > 0).sum())
    return Outcome(
        name="6. best config vs defaults",
        table=table,
        measured=(
            f"STS-test spearman_cosine at full depth: best {best['spearman_cosine']:.4f} ± "
            f"{best['std']['spearman_cosine']:.4f} vs defaults {default['spearman_cosine']:.4f} ± "
            f"{default['std']['spearman_cosine']:.4f} ({gain:+.4f}; {len(seeds)} seed(s)); "
            f"best ahead at {depth_wins} of {depths} depths"
        ),
        target="report what it finds",
        met=None,
        notes=[
            f"best config: {json.dumps(report['best']['config'])}"
            + (" (the reference defaults themselves)" if report["default_is_best"] else ""),
            f"best STS-dev in the sweep: {report['best']['sts_dev_spearman']:.4f}; experiment: {sweep.folder}",
        ],
    )
