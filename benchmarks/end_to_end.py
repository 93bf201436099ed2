"""6. Does the sweep find better settings, and what caused the difference: STS-test of the best config vs
the reference defaults vs the untrained base model, at full depth and at every depth, with the report's
verdict; and the attribution over the retrain's arms (the loss settings, the trainer settings, and
AdaptiveLayerLoss over plain MultipleNegativesRankingLoss).

Read from the shared recipe sweep's report: every arm retrained on the full budget with every seed
(seeds no trial trained with), each delivering its own best STS-dev evaluation; each verdict is a paired
difference with one 95% interval for the seeds' and the test pairs' noise.
"""

from __future__ import annotations

import json

import pandas as pd

from benchmarks.record import Outcome
from benchmarks.session import Session
from sweep.report.comparison import attribution_lines

SHALLOW = (1, 2, 3)  # the depths the target speaks of (those below full depth, for a model of 4 layers or fewer)
GAIN = 0.02  # two STS-test points


def judged(report: dict) -> tuple[str, dict]:
    """The difference the target is judged on: best − defaults (``total``), or where the retrain left the
    defaults out (``retrain.arms``), the first one it has in the report's order."""
    for key in ("total", *report["attribution_order"]):
        if report["attribution"].get(key):
            return key, report["attribution"][key]
    raise RuntimeError("the report has no comparison between two arms: retrain.arms left them out")


def verdict_table(report: dict, found: dict) -> pd.DataFrame:
    """One row per depth: the two arms compared and the untrained model, the difference with its interval,
    the per-seed differences."""
    minuend, subtrahend = found["arms"]
    first, second = report["arms"][minuend]["test"], report["arms"][subtrahend]["test"]
    untrained = report["untrained"]["test"]
    rows = []
    for i, entry in enumerate(found["per_depth"]):
        rows.append(
            {
                "depth": entry["depth"],
                minuend: first["per_layer"][i],
                f"{minuend}_std": first["per_layer_std"][i],
                subtrahend: second["per_layer"][i],
                f"{subtrahend}_std": second["per_layer_std"][i],
                "untrained": untrained["per_layer"][i],
                "difference": entry["delta"],
                "low": entry["interval"][0],
                "high": entry["interval"][1],
                "says": entry["says"],
                "per_seed": " ".join(f"{d:+.4f}" for d in entry["components"]["per_seed_delta"]),
            }
        )
    return pd.DataFrame(rows)


def attribution_table(report: dict) -> pd.DataFrame:
    """One row per difference and per depth (and the objective): the difference, its 95% and adjusted
    intervals, what it says."""
    rows = []
    for key in report["attribution_order"]:
        found = report["attribution"][key]
        if found is None:
            continue
        for where, entry in [("objective", found["objective"]), *((str(v["depth"]), v) for v in found["per_depth"])]:
            rows.append(
                {
                    "difference": key,
                    "arms": " − ".join(found["arms"]),
                    "depth": where,
                    "delta": entry["delta"],
                    "low": entry["interval"][0],
                    "high": entry["interval"][1],
                    "adjusted_low": entry["adjusted_interval"][0],
                    "adjusted_high": entry["adjusted_interval"][1],
                    "says": entry["says"],
                }
            )
    return pd.DataFrame(rows)


def run(session: Session) -> Outcome:
    sweep = session.recipe_sweep()
    report = sweep.finished_report()
    key, found = judged(report)
    table = verdict_table(report, found)
    arms = pd.DataFrame(
        {name: arm["test"]["per_layer"] for name, arm in report["arms"].items() if arm["test"]}, index=report["depths"]
    ).rename_axis("depth")
    depths = len(found["per_depth"])
    shallow = [found["per_depth"][d - 1] for d in SHALLOW if d < depths]
    full = found["full"]
    gains = all(v["says"] == "better" and v["delta"] >= GAIN for v in shallow)
    # Under objective.full_depth_margin full depth is judged for non-inferiority; else "not worse".
    margin = report["objective"].get("full_depth_margin")
    held = full.get("non_inferiority", {}).get("holds") if margin is not None else full["says"] != "worse"
    loss = report["attribution"].get("loss") if key != "loss" else None
    loss_shallow = [loss["per_depth"][d - 1] for d in SHALLOW if d < depths] if loss else []
    seeds = report["seeds"]["retrain"]
    steps = [
        f"{name} seed {run['seed']}: step {run['chosen_step']} of {run['steps']}"
        for name in found["arms"]
        for run in report["arms"][name]["test"]["per_seed"]
    ]
    return Outcome(
        name="6. best config vs defaults",
        table=table,
        measured=(
            f"STS-test spearman_cosine, {' − '.join(found['arms'])} ({key}; "
            f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}): "
            f"full depth {full['text']}; "
            + "; ".join(f"depth {v['depth']} {v['text']}" for v in shallow)
            + f"; untrained full depth {report['untrained']['test']['spearman_cosine']:.4f}"
            + (
                "; loss settings at fixed trainer settings: "
                + "; ".join(f"depth {v['depth']} {v['text']}" for v in loss_shallow)
                + f"; full depth {loss['full']['text']}"
                if loss
                else ""
            )
            + "; on the objective, "
            + ", ".join(
                f"{name} {other['objective']['says']} {100 * other['objective']['delta']:+.2f} "
                "({:+.2f}..{:+.2f})".format(*(100 * x for x in other["objective"]["interval"]))
                for name in report["attribution_order"]
                if (other := report["attribution"][name])
            )
        ),
        target=f"≥ {100 * GAIN:.0f} points better at depths 1–3 below full depth (interval above 0), full depth "
        + (f"not worse by more than {100 * margin:.2f}" if margin is not None else "not worse"),
        met=gains and bool(held),
        notes=[
            f"best config: {json.dumps(report['best']['config'])}"
            + (" (the reference defaults themselves)" if report["default_is_best"] else ""),
            f"best trial {report['best']['trial_id']} at step {report['best']['step']}: objective "
            f"{json.dumps(report['best']['objective'])}; experiment: {sweep.folder}",
            "delivered steps: " + ", ".join(steps),
            f"verdict method: {full['method']}",
            "arms, STS-test spearman_cosine per depth (mean over seeds):\n" + arms.to_string(float_format="%.4f"),
            "attribution (the loss settings first where a trainer knob was searched):\n"
            + attribution_table(report).to_string(index=False, float_format="%+.4f"),
            *(f"{line}" for line in attribution_lines(report)),
        ],
    )
