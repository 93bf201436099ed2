"""The sections of ``report.md`` that answer the sweep's question: the verdict (best config vs the
reference defaults, at full depth and every depth, with its interval), the STS-test metric set, and
quality against depth, each beside the base model before training."""

from __future__ import annotations

from typing import Any

from sweep.config.arms import ATTRIBUTION, COMPARISON_WORDS, LABELS, WORDS
from sweep.report.markdown import embedded, fmt, layers, pm, spread, table
from sweep.store.folder import DEPTH_PLOT, MODEL_DIR
from trainables.metrics import METRIC_NAMES


def verdict_lines(report: dict[str, Any]) -> list[str]:
    """The objective first (the primary comparison), then one line per depth, full depth first:
    ``full depth (6 layers): better by 2.31 (95% interval …)``."""
    verdict = report["verdict"]
    if verdict is None:
        return []
    objective = verdict.get("objective")  # reports written before the objective was judged lack it
    lines = [f"the objective, {objective['label']}: {objective['text']}"] if objective else []
    lines.append(f"full depth ({layers(report['n_layers'])}): {verdict['full']['text']}")
    return lines + [f"{layers(v['depth'])}: {v['text']}" for v in verdict["per_depth"][:-1]]


def attribution_lines(report: dict[str, Any]) -> list[str]:
    """What caused the difference, in the order a reader needs it (the loss settings' effect first when the
    search moved a trainer knob): per difference its objective verdict, then every depth's in one line.
    Reports written before the arms existed give the total only."""
    attribution = report.get("attribution") or {"total": report["verdict"]}
    order = report.get("attribution_order", ["total"])
    lines = []
    for key in order:
        found = attribution.get(key)
        if not found:
            continue
        objective = found.get("objective")
        lines.append(f"{COMPARISON_WORDS[key]}: {objective['text'] if objective else found['full']['text']}")
        lines.append(f"  by depth, adjusted over {len(found['per_depth'])}: " + ", ".join(_depth_words(report, found)))
        if found["per_depth"][-1].get("non_inferiority"):  # under objective.full_depth_margin
            lines.append(f"  full depth: {found['per_depth'][-1]['non_inferiority']['text']}")
    return lines


def _depth_words(report: dict[str, Any], found: dict[str, Any]) -> list[str]:
    words = []
    for entry in found["per_depth"]:
        low, high = entry["adjusted_interval"]
        full = " (full)" if entry["depth"] == report["n_layers"] else ""
        words.append(
            f"{entry['depth']}{full} {entry['says']} {100 * entry['delta']:+.2f} [{100 * low:+.2f}..{100 * high:+.2f}]"
        )
    return words


def attribution_bullets(report: dict[str, Any]) -> list[str]:
    """``attribution_lines`` and ``left_out`` as a Markdown list, each difference's depths nested under it."""
    lines = [f"  - {text.strip()}" if text.startswith(" ") else f"- {text}" for text in attribution_lines(report)]
    return lines + [f"- {note}" for note in left_out(report)]


def left_out(report: dict[str, Any]) -> list[str]:
    """The differences not judged, and why: an arm ``retrain.arms`` left out, or one that is another's runs."""
    notes = []
    for key, found in (report.get("attribution") or {}).items():
        if found is None:
            missing = [arm for arm in ATTRIBUTION[key] if arm not in report["arms"]]
            notes.append(
                f"{key}: not judged, no {' or '.join(missing)} runs (not in `retrain.arms`, or a retrain from before "
                "the arms: `sweep retrain DIR` adds them)"
            )
    for name, arm in (report.get("arms") or {}).items():
        if arm.get("note"):
            notes.append(f"{name} ({WORDS[name]}): {arm['note']}")
    return notes


def nothing_delivered(report: dict[str, Any]) -> str | None:
    """Where no trial was feasible, the one sentence report.md opens with and the CLI ends with; else None."""
    found = report.get("no_feasible")
    if not found:
        return None
    completed = found["completed"]
    return (
        f"No trial was feasible, so nothing is delivered (no best config, no {MODEL_DIR}/): of {completed} "
        f"completed trial{'s' if completed != 1 else ''}, {found['reason']}."
    )


def no_winner_headline(report: dict[str, Any]) -> list[str]:
    """The top of report.md where no trial was feasible: that sentence, what a looser margin would pick,
    and the STS-test figures of the models that need no winner."""
    default, untrained = report["default"]["test"], report["untrained"]["test"]
    seeds = report["seeds"]["retrain"]
    line = f"STS-test spearman_cosine (×100, {spread(seeds)}): "
    line += f"reference defaults **{pm(default['spearman_cosine'], _sd(default))}**; " if default else ""
    line += f"the base model before training {fmt(untrained['spearman_cosine'])}."
    return [
        f"**{nothing_delivered(report)}**",
        "",
        "`sweep simulate DIR --set objective.full_depth_margin=...` says what a looser margin would pick.",
        "",
        line,
        "",
        _seeds_note(report),
    ]


def headline(report: dict[str, Any]) -> list[str]:
    """The top of report.md: the verdict in words, then the STS-test figures of all three models."""
    if report.get("no_feasible"):
        return no_winner_headline(report)
    best, default, untrained = report["test"], report["default"]["test"], report["untrained"]["test"]
    seeds = report["seeds"]["retrain"]
    line = f"STS-test spearman_cosine (×100, {spread(seeds)}): best config **{pm(best['spearman_cosine'], _sd(best))}**"
    if default:
        line += f", reference defaults **{pm(default['spearman_cosine'], _sd(default))}**"
    line += f"; the base model before training {fmt(untrained['spearman_cosine'])}."
    lines = [line]
    if any((report.get("attribution") or {"total": report["verdict"]}).values()):
        lines += ["", "**What caused the difference** (STS-test spearman_cosine ×100; depths' intervals adjusted):", ""]
        lines += attribution_bullets(report)
    if report["verdict"] is not None:
        lines += ["", "**Verdict**, best config − reference defaults (STS-test spearman_cosine ×100):", ""]
        lines += [f"- {text}" for text in verdict_lines(report)]
        lines += ["", f"Method: {report['verdict']['full']['method']}; 95% intervals."]
    else:
        lines += ["", "No verdict: the reference defaults were not retrained (`retrain.arms` leaves out defaults)."]
    lines += ["", _seeds_note(report)]
    return lines


def _sd(summary: dict[str, Any]) -> float | None:
    return summary["std"]["spearman_cosine"]


def _seeds_note(report: dict[str, Any]) -> str:
    seeds = report["seeds"]
    listed = ", ".join(map(str, seeds["retrain"]))
    note = f"Retrain seeds {listed}; the sweep's trials trained with seed {', '.join(map(str, seeds['sweep']))}."
    if seeds["seen_by_sweep"]:
        seen = ", ".join(map(str, seeds["seen_by_sweep"]))
        note += (
            f" **Seed {seen} is the sweep's own**: the winning config was picked on that seed, so part of its lead "
            "there may be a lucky seed."
        )
    return note


def _seed_span(entry: dict[str, Any]) -> str:
    """The per-seed part of the interval; n/a with one seed."""
    if entry["components"]["seed_interval"] is None:
        return "n/a (one seed)"
    low, high = entry["components"]["seed_interval"]
    return f"{100 * low:+.2f}..{100 * high:+.2f}"


def arm_columns(report: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """Each retrained arm's STS-test summary, labelled, in arm order; reports written before the arms
    existed have the best config, the reference defaults (None when not retrained) and the untrained model."""
    if "arms" in report:
        return [(LABELS[name], arm["test"]) for name, arm in report["arms"].items()]
    return [
        (LABELS["best"], report["test"]),
        (LABELS["defaults"], report["default"]["test"]),
        (LABELS["untrained"], report["untrained"]["test"]),
    ]


def _metric_cell(summary: dict[str, Any] | None, name: str) -> str:
    if summary is None:
        return "–"
    if "std" not in summary:  # the untrained model: scored once
        return fmt(summary["mean"][name])
    return pm(summary["mean"][name], summary["std"][name])


def test_section(report: dict[str, Any]) -> str:
    columns = arm_columns(report)
    lines = ["## STS-test: every arm of the retrain", ""]
    lines.append(f"The model card's metric set, ×100, {spread(report['seeds']['retrain'])}.")
    rows = [[name, *(_metric_cell(summary, name) for _, summary in columns)] for name in METRIC_NAMES]
    lines += ["", *table(["metric", *(label for label, _ in columns)], rows)]
    if report.get("retrain_data"):
        lines += ["", f"Training rows: {report['retrain_data']}."]
    lines += ["", *_selection_note(report)]
    return "\n".join(lines)


def _selection_note(report: dict[str, Any]) -> list[str]:
    """Which step each retrain delivered, and what the same runs scored at the end of their budget."""
    lines = [
        "Each retrain evaluates STS-dev at the trials' cadence and delivers the weights of its own best evaluation, "
        "by the rule that picked the winning trial; beside them, what the same run scored at the end of its budget:",
        "",
    ]
    rows = []
    for name, summary in arm_columns(report):
        if summary is None or "per_seed" not in summary:
            continue
        for run in summary["per_seed"]:
            rows.append(
                [
                    name,
                    str(run["seed"]),
                    f"{run['chosen_step']} of {run['steps']}",
                    fmt(run["spearman_cosine"]),
                    fmt(run["final"]),
                ]
            )
    header = ["config", "seed", "step delivered", "STS-test, delivered", "STS-test, end of budget"]
    return lines + table(header, rows)


def depth_cell(summary: dict[str, Any] | None, i: int) -> str:
    if summary is None:
        return "–"
    std = summary.get("per_layer_std")
    return pm(summary["per_layer"][i], std[i]) if std is not None else fmt(summary["per_layer"][i])


def depth_section(report: dict[str, Any]) -> str:
    """Per depth: the three models and, where the defaults were retrained, the verdict with its interval."""
    columns = arm_columns(report)
    verdict = report["verdict"]
    header = ["layers", *(label for label, _ in columns)]
    if verdict:
        header += [
            "best − defaults (95% interval)",
            f"adjusted over {len(report['depths'])} depths",
            "over seeds only",
            "says",
        ]
    rows = []
    for i, depth in enumerate(report["depths"]):
        row = [
            str(depth) + (" (full)" if depth == report["n_layers"] else ""),
            *(depth_cell(summary, i) for _, summary in columns),
        ]
        if verdict:
            entry = verdict["per_depth"][i]
            low, high = entry["interval"]
            adjusted_low, adjusted_high = entry["adjusted_interval"]
            row += [
                f"{100 * entry['delta']:+.2f} ({100 * low:+.2f}..{100 * high:+.2f})",
                f"{100 * adjusted_low:+.2f}..{100 * adjusted_high:+.2f}",
                _seed_span(entry),
                f"**{entry['says']}**",
            ]
        rows.append(row)
    seeds = report["seeds"]["retrain"]
    lines = ["## STS-test spearman_cosine by depth", ""]
    lines.append(f"Quality when only the first layers run (×100, {spread(seeds)}): what AdaptiveLayerLoss is for.")
    if verdict:
        lines[-1] += (
            " The difference is paired (the same seeds and test pairs for both configs); one interval holds both "
            "noises (the per-seed differences' spread and a paired bootstrap over the test pairs, variances summed, "
            "t with Welch–Satterthwaite degrees of freedom). Each depth is judged on its interval adjusted for the "
            f"{len(report['depths'])} depths judged together (Bonferroni): *better* or *worse* when it lies on that "
            f"side of zero, *equivalent* when it lies within ±{100 * verdict['margin']:.2f}, *inconclusive* "
            "otherwise."
        )
    lines += ["", *table(header, rows)]
    if report["default_is_best"]:
        lines += ["", "The best config is the reference defaults, so both come from the same runs."]
    return "\n".join(lines + embedded(report, DEPTH_PLOT))
