"""``report.md``: a short model card rendered from report.json's values only, so the two always agree.

Correlations are shown ×100 with two decimals, as model cards show them (``sweep.report.markdown``); the
sections that compare the best config with the defaults are in ``sweep.report.comparison``.
"""

from __future__ import annotations

from typing import Any

from sweep.report.comparison import depth_section, headline, test_section
from sweep.report.markdown import embedded, fmt, short, table
from sweep.report.noise import noise_lines
from sweep.store.folder import (
    CONFIG_FILE,
    DEPTH_PLOT,
    IMPORTANCE_PLOT,
    PARETO_PLOT,
    REPORT_JSON,
    REPORTS_FILE,
    TRIALS_FILE,
)


def render_report_md(report: dict[str, Any]) -> str:
    """The whole report.md. Where no trial was feasible, the defaults' and the untrained model's depth table
    follows the sentence that says so at once: they are all the report has to give."""
    answer = [test_section(report), depth_section(report)]
    if report.get("no_feasible"):
        answer.reverse()
    sections = [
        _header(report),
        *(answer if report.get("no_feasible") else []),
        _recipe(report),
        _search_space(report),
        _trials(report),
        _pareto(report),
        *([] if report.get("no_feasible") else answer),
        _importance(report),
        _plots(report),
        _reproduce(report),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _header(report: dict[str, Any]) -> str:
    """The title, what was swept, and the answer; where nothing is delivered, that comes first."""
    objective = report["objective"]
    about = (
        f"Base model: {report['model']}, {report['n_layers']} layers, fine-tuned with {report['recipe']['loss']}. "
        f"The sweep optimised {objective['description']} (`{'`, `'.join(objective['metrics'])}`, "
        f"{objective['mode']}); " + describe_pruning(report)
    )
    answer = headline(report)
    body = [*answer, "", about] if report.get("no_feasible") else [about, "", *answer]
    return "\n".join([f"# Adaptive-layer sweep: {report['name']}", "", *body])


def describe_pruning(report: dict[str, Any]) -> str:
    """How trials were stopped early, in one sentence, from report.json's scheduler and objective."""
    scheduler, metric = report["scheduler"], report["objective"]["prune_on"]
    stops = []
    kind, grace, factor = scheduler["type"], scheduler["grace_period"], scheduler.get("reduction_factor", 2)
    rungs = f"grace period {grace} evaluation(s), reduction factor {factor:g}"
    if kind in ("asha", "hyperband", "pasha"):
        who = {"asha": "ASHA", "hyperband": f"Hyperband ({scheduler.get('brackets') or 3} brackets)"}.get(kind, "PASHA")
        stops.append(f"{who} stopped weak trials on `{metric}` ({rungs})")
    if kind == "pasha":
        stops.append("a trial that reached PASHA's top rung was ranked there, completed at that budget")
    if kind == "median":
        stops.append(
            f"the median stopping rule stopped trials on `{metric}` below the others' running means (grace period "
            f"{grace} evaluation(s), at least {scheduler.get('min_samples_required') or 3} others)"
        )
    if scheduler.get("patience"):
        stops.append(f"a trial ended itself after {scheduler['patience']} evaluation(s) in a row without a new best")
    return " and ".join(stops) + "." if stops else "no trial was stopped early."


def _recipe(report: dict[str, Any]) -> str:
    train, data = report["recipe"]["train"], report["recipe"]["data"]
    rows = [[f"`{key}`", f"`{short(value)}`"] for key, value in train.items() if value is not None]
    splits = []
    for split, source in data.items():
        extra = "".join(f", {k} {source[k]}" for k in ("subset", "limit", "shuffle") if source.get(k) is not None)
        splits.append(f"- {split}: `{source['source']}`{extra}")
    lines = ["## Recipe", "", f"Loss: {report['recipe']['loss']}. Data:", "", *splits, ""]
    return "\n".join([*lines, "Training (every trial):", "", *table(["setting", "value"], rows)])


def _search_space(report: dict[str, Any]) -> str:
    rows = [
        [
            f"`{p['param']}`",
            f"`{p['searched']}`" if p["searched"] else "(fixed)",
            f"`{short(p['default'])}`",
            f"`{short(p['best'])}`" if p["best"] is not None else "–",
            p["role"],
        ]
        for p in report["search_space"]
    ]
    lines = ["## Search space and best config", ""]
    lines += table(["parameter", "searched over", "reference default", "best", "role"], rows)
    for warning in report["boundary_warnings"]:
        lines += ["", f"**Warning** `{warning['param']}`: {warning['text']}."]
    return "\n".join(lines)


def _trials(report: dict[str, Any]) -> str:
    counts, best = report["trials"], report["best"]
    columns = report["objective"]["metrics"]
    lines = ["## Trials", ""]
    lines += _counts_table(counts)
    lines += [""]
    if best is not None:
        lines += [
            f"Best trial `{best['trial_id']}` ({best['status']}), at step {best['step']}: "
            + ", ".join(f"`{c}` {fmt(v)}" for c, v in best["objective"].items())
            + ".",
            "",
        ]
    lines += [
        f"Which trial wins: {report['objective']['selection']}. Only "
        + " and ".join(report["objective"]["pickable"])
        + " trials may win.",
        "",
    ]
    lines += _constraint(report.get("constraint"))
    lines += noise_lines(report.get("noise"))
    lines += [
        "Leaderboard (the top trials by that rule, ×100):",
        "",
    ]
    searched = list(report["leaderboard"][0]["params"]) if report["leaderboard"] else []
    rows = [
        [f"`{row['trial_id']}`", row["status"], str(row["step"]), *(fmt(row[c]) for c in columns), str(row["steps"])]
        + [short(row["params"][key]) for key in searched]
        for row in report["leaderboard"]
    ]
    lines += table(["trial", "status", "at step", *columns, "steps trained", *searched], rows)
    return "\n".join(lines)


def _constraint(constraint: dict[str, Any] | None) -> list[str]:
    """How many completed trials met objective.full_depth_margin, and against what."""
    if constraint is None:
        return []
    return [
        f"Constraint (`objective.full_depth_margin` {constraint['full_depth_margin']:g}, "
        f"{fmt(constraint['full_depth_margin'])} ×100): a trial is feasible when its full-depth STS-dev at its "
        f"chosen evaluation is at least {fmt(constraint['threshold'])}, the reference "
        f"defaults' trial `{constraint['reference_trial']}` ({fmt(constraint['reference_full_depth'])} at step "
        f"{constraint['reference_step']}) minus the margin; **{constraint['feasible']} of {constraint['completed']} "
        "completed trials were feasible**, and only a feasible trial may win.",
        "",
    ]


def _counts_table(counts: dict[str, Any]) -> list[str]:
    keys = ("total", "completed", "pruned", "errored", "unfinished")
    return table([*keys, "trial time, summed (s)"], [[*(str(counts[k]) for k in keys), f"{counts['time_s']:.1f}"]])


def _pareto(report: dict[str, Any]) -> str:
    pareto = report["pareto"]
    if not pareto:
        return ""
    columns = report["objective"]["metrics"]
    rows = [
        [f"`{p['trial_id']}`" + (" (retrained)" if p["trial_id"] == pareto["picked"] else ""), str(p["step"])]
        + [fmt(p[n]) for n in columns]
        for p in pareto["front"]
    ]
    lines = ["## Pareto front", "", f"Completed trials that no other beats on both `{columns[0]}` and `{columns[1]}` "]
    lines[-1] += (
        "(×100). Each trial is one point, both values from one evaluation (the step shown): the one its selection "
        f"rule ranks first. The retrained point is chosen by `pick: {pareto['pick']}`."
    )
    return "\n".join([*lines, "", *table(["trial", "step", *columns], rows), *embedded(report, PARETO_PLOT)])


def _importance(report: dict[str, Any]) -> str:
    lines = ["## Parameter importance", ""]
    for result in report["importance"]:
        lines.append(f"fANOVA on `{result['metric']}` over {result['trials']} completed trials (share of variance):")
        if result["note"]:
            lines += ["", f"Not computed: {result['note']}."]
        else:
            rows = [[f"`{key}`", f"{value:.2f}"] for key, value in result["values"].items()]
            lines += ["", *table(["parameter", "importance"], rows)]
        lines.append("")
    return "\n".join(lines + embedded(report, IMPORTANCE_PLOT)).rstrip()


def _plots(report: dict[str, Any]) -> str:
    if not report["plots"]:
        return "## Plots\n\nNone yet: `sweep analyze DIR` draws them."
    lines = ["## Plots", ""]
    for plot in report["plots"]:
        if plot["file"] not in (DEPTH_PLOT, IMPORTANCE_PLOT, PARETO_PLOT):  # shown in their sections
            lines += [f"### {plot['title']}", "", f"![{plot['title']}]({plot['file']})", ""]
    return "\n".join(lines).rstrip()


def _reproduce(report: dict[str, Any]) -> str:
    model = f"`{report['model_path']}/`, " if report["model_path"] else ""  # none where no trial was feasible
    return "\n".join(
        [
            "## Reproduce",
            "",
            "```",
            report["command"],
            "```",
            "",
            f"Files: `{TRIALS_FILE}`, `{REPORTS_FILE}` (or `sweep.load_trials` / `sweep.load_reports`), "
            f"`{REPORT_JSON}`, {model}`{CONFIG_FILE}`.",
        ]
    )
