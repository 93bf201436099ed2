"""``report.md``: a short model card rendered from report.json's values only, so the two always agree.

Correlations are shown ×100 with two decimals, as model cards show them; other numbers as report.json
holds them.
"""

from __future__ import annotations

from typing import Any

from sweep.plot_files import DEPTH as DEPTH_PLOT
from sweep.plot_files import IMPORTANCE as IMPORTANCE_PLOT
from sweep.plot_files import PARETO as PARETO_PLOT
from trainables.metrics import METRIC_NAMES


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _pm(mean: float, std: float, seeds: list[int]) -> str:
    """Mean ± std over seeds; one seed has no spread, so only its value shows."""
    return f"{_fmt(mean)} ± {_fmt(std)}" if len(seeds) > 1 else _fmt(mean)


def _spread(seeds: list[int]) -> str:
    listed = ", ".join(map(str, seeds))
    return f"mean ± std over seeds {listed}" if len(seeds) > 1 else f"one seed ({listed}), so no spread"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def render_markdown(report: dict[str, Any]) -> str:
    """The whole report.md."""
    sections = [
        _header(report),
        _recipe(report),
        _search_space(report),
        _trials(report),
        _pareto(report),
        _test(report),
        _depth(report),
        _importance(report),
        _plots(report),
        _reproduce(report),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _header(report: dict[str, Any]) -> str:
    objective = report["objective"]
    best, default = report["test"], report["default"]["test"]
    line = f"STS-test spearman_cosine (×100): best config **{_fmt(best['spearman_cosine'])}**"
    if default:
        line += f", reference defaults **{_fmt(default['spearman_cosine'])}**"
    return "\n".join(
        [
            f"# Adaptive-layer sweep: {report['name']}",
            "",
            f"Base model: {report['model']}, {report['n_layers']} layers, fine-tuned with {report['recipe']['loss']}. "
            f"The sweep optimised {objective['description']} (`{'`, `'.join(objective['metrics'])}`, "
            f"{objective['mode']}); " + _pruning(report),
            "",
            line + f" ({_spread(report['seeds'])}).",
        ]
    )


def _pruning(report: dict[str, Any]) -> str:
    scheduler, metric = report["scheduler"], report["objective"]["prune_on"]
    stops = []
    if scheduler["type"] != "none":
        stops.append(
            f"ASHA stopped weak trials on `{metric}` (grace period {scheduler['grace_period']} "
            f"evaluation(s), reduction factor {scheduler['reduction_factor']:g})"
        )
    if scheduler.get("patience"):
        stops.append(f"a trial ended itself after {scheduler['patience']} evaluation(s) in a row without a new best")
    return " and ".join(stops) + "." if stops else "no trial was stopped early."


def _recipe(report: dict[str, Any]) -> str:
    train, data = report["recipe"]["train"], report["recipe"]["data"]
    rows = [[f"`{key}`", f"`{_short(value)}`"] for key, value in train.items() if value is not None]
    splits = []
    for split, source in data.items():
        extra = "".join(f", {k} {source[k]}" for k in ("subset", "limit", "shuffle") if source.get(k) is not None)
        splits.append(f"- {split}: `{source['source']}`{extra}")
    lines = ["## Recipe", "", f"Loss: {report['recipe']['loss']}. Data:", "", *splits, ""]
    return "\n".join([*lines, "Training (every trial):", "", *_table(["setting", "value"], rows)])


def _search_space(report: dict[str, Any]) -> str:
    rows = [
        [
            f"`{p['param']}`",
            f"`{p['searched']}`" if p["searched"] else "(fixed)",
            f"`{_short(p['default'])}`",
            f"`{_short(p['best'])}`",
            p["role"],
        ]
        for p in report["search_space"]
    ]
    lines = ["## Search space and best config", ""]
    lines += _table(["parameter", "searched over", "reference default", "best", "role"], rows)
    for warning in report["boundary_warnings"]:
        lines += ["", f"**Warning** `{warning['param']}`: {warning['text']}."]
    return "\n".join(lines)


def _trials(report: dict[str, Any]) -> str:
    counts, best = report["trials"], report["best"]
    columns = list(best["objective"])
    lines = ["## Trials", ""]
    lines += _counts_table(counts)
    lines += [
        "",
        f"Best trial `{best['trial_id']}` ({best['status']}): "
        + ", ".join(f"`{c}` {_fmt(v)}" for c, v in best["objective"].items())
        + ".",
        "",
        "Leaderboard (the top trials by their best score at any STS-dev evaluation, ×100):",
        "",
    ]
    searched = list(report["leaderboard"][0]["params"]) if report["leaderboard"] else []
    rows = [
        [f"`{row['trial_id']}`", row["status"], *(_fmt(row[c]) for c in columns), str(row["steps"])]
        + [_short(row["params"][key]) for key in searched]
        for row in report["leaderboard"]
    ]
    lines += _table(["trial", "status", *columns, "steps", *searched], rows)
    return "\n".join(lines)


def _counts_table(counts: dict[str, Any]) -> list[str]:
    keys = ("total", "completed", "pruned", "errored", "unfinished")
    return _table([*keys, "trial time, summed (s)"], [[*(str(counts[k]) for k in keys), f"{counts['time_s']:.1f}"]])


def _pareto(report: dict[str, Any]) -> str:
    pareto = report["pareto"]
    if not pareto:
        return ""
    columns = report["objective"]["metrics"]
    names = list(pareto["front"][0])[1:]
    rows = [
        [f"`{p['trial_id']}`" + (" (retrained)" if p["trial_id"] == pareto["picked"] else "")]
        + [_fmt(p[n]) for n in names]
        for p in pareto["front"]
    ]
    lines = ["## Pareto front", "", f"Trials that no other trial beats on both `{columns[0]}` and `{columns[1]}` "]
    lines[-1] += f"(best value at any evaluation, ×100). The retrained point is chosen by `pick: {pareto['pick']}`."
    return "\n".join([*lines, "", *_table(["trial", *names], rows), *_embedded(report, PARETO_PLOT)])


def _test(report: dict[str, Any]) -> str:
    best, default = report["test"], report["default"]["test"]
    lines = ["## STS-test: best config vs reference defaults", ""]
    seeds = report["seeds"]
    lines.append(f"The model card's metric set, ×100, {_spread(seeds)}.")
    rows = [
        [
            name,
            _pm(best["mean"][name], best["std"][name], seeds),
            _pm(default["mean"][name], default["std"][name], seeds) if default else "–",
        ]
        for name in METRIC_NAMES
    ]
    lines += ["", *_table(["metric", "best config", "reference defaults"], rows)]
    if report["default_is_best"]:
        lines += ["", "The best config is the reference defaults, so both columns come from the same runs."]
    return "\n".join(lines)


def _depth(report: dict[str, Any]) -> str:
    best, default, seeds = report["test"], report["default"]["test"], report["seeds"]
    rows = []
    for i, depth in enumerate(report["depths"]):
        right = _pm(default["per_layer"][i], default["per_layer_std"][i], seeds) if default else "–"
        rows.append([str(depth), _pm(best["per_layer"][i], best["per_layer_std"][i], seeds), right])
    lines = ["## STS-test spearman_cosine by depth", ""]
    lines.append(f"Quality when only the first layers run (×100, {_spread(seeds)}): what AdaptiveLayerLoss is for.")
    lines += ["", *_table(["layers", "best config", "reference defaults"], rows), *_embedded(report, DEPTH_PLOT)]
    return "\n".join(lines)


def _importance(report: dict[str, Any]) -> str:
    lines = ["## Parameter importance", ""]
    for result in report["importance"]:
        lines.append(f"fANOVA on `{result['metric']}` over {result['trials']} completed trials (share of variance):")
        if result["note"]:
            lines += ["", f"Not computed: {result['note']}."]
        else:
            rows = [[f"`{key}`", f"{value:.2f}"] for key, value in result["values"].items()]
            lines += ["", *_table(["parameter", "importance"], rows)]
        lines.append("")
    return "\n".join(lines + _embedded(report, IMPORTANCE_PLOT)).rstrip()


def _embedded(report: dict[str, Any], name: str) -> list[str]:
    """The image line of one plot, where a section shows it next to its table."""
    return ["", f"![{p['title']}]({p['file']})"] if (p := _plot(report, name)) else []


def _plot(report: dict[str, Any], name: str) -> dict[str, str] | None:
    return next((plot for plot in report["plots"] if plot["file"] == name), None)


def _plots(report: dict[str, Any]) -> str:
    if not report["plots"]:
        return "## Plots\n\nNone yet: `sweep analyze DIR` draws them."
    lines = ["## Plots", ""]
    for plot in report["plots"]:
        if plot["file"] not in (DEPTH_PLOT, IMPORTANCE_PLOT, PARETO_PLOT):  # shown in their sections
            lines += [f"### {plot['title']}", "", f"![{plot['title']}]({plot['file']})", ""]
    return "\n".join(lines).rstrip()


def _reproduce(report: dict[str, Any]) -> str:
    return "\n".join(
        [
            "## Reproduce",
            "",
            "```",
            report["command"],
            "```",
            "",
            "Files: `trials.parquet`, `reports.parquet` (or `sweep.load_trials` / `sweep.load_reports`), "
            f"`report.json`, `{report['model_path']}/`, `config.yaml`.",
        ]
    )
