"""The sections of ``report.md`` that answer the sweep's question: the verdict (best config vs the
reference defaults, at full depth and every depth, with its interval), the STS-test metric set, and
quality against depth, each beside the base model before training."""

from __future__ import annotations

from typing import Any

from sweep.experiment_folder import DEPTH_PLOT
from sweep.markdown import embedded, fmt, layers, pm, spread, table
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


def headline(report: dict[str, Any]) -> list[str]:
    """The top of report.md: the verdict in words, then the STS-test figures of all three models."""
    best, default, untrained = report["test"], report["default"]["test"], report["untrained"]["test"]
    seeds = report["seeds"]["retrain"]
    line = f"STS-test spearman_cosine (×100, {spread(seeds)}): best config **{pm(best['spearman_cosine'], _sd(best))}**"
    if default:
        line += f", reference defaults **{pm(default['spearman_cosine'], _sd(default))}**"
    line += f"; the base model before training {fmt(untrained['spearman_cosine'])}."
    lines = [line]
    if report["verdict"] is not None:
        lines += ["", "**Verdict**, best config − reference defaults (STS-test spearman_cosine ×100):", ""]
        lines += [f"- {text}" for text in verdict_lines(report)]
        lines += ["", f"Method: {report['verdict']['full']['method']}; 95% intervals."]
    else:
        lines += ["", "No verdict: the reference defaults were not retrained (`retrain.defaults: false`)."]
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


def test_section(report: dict[str, Any]) -> str:
    best, default, untrained = report["test"], report["default"]["test"], report["untrained"]["test"]
    lines = ["## STS-test: best config vs reference defaults", ""]
    lines.append(f"The model card's metric set, ×100, {spread(report['seeds']['retrain'])}.")
    rows = [
        [
            name,
            pm(best["mean"][name], best["std"][name]),
            pm(default["mean"][name], default["std"][name]) if default else "–",
            fmt(untrained["mean"][name]),
        ]
        for name in METRIC_NAMES
    ]
    lines += ["", *table(["metric", "best config", "reference defaults", "untrained"], rows)]
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
    for name, summary in (("best config", report["test"]), ("reference defaults", report["default"]["test"])):
        if summary is None:
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


def depth_section(report: dict[str, Any]) -> str:
    """Per depth: the three models and, where the defaults were retrained, the verdict with its interval."""
    best, default, untrained = report["test"], report["default"]["test"], report["untrained"]["test"]
    verdict = report["verdict"]
    header = ["layers", "best config", "reference defaults", "untrained"]
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
            pm(best["per_layer"][i], best["per_layer_std"][i]),
            pm(default["per_layer"][i], default["per_layer_std"][i]) if default else "–",
            fmt(untrained["per_layer"][i]),
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
