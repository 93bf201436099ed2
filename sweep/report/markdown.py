"""Formatting shared by the sections of ``report.md``: correlations ×100 with two decimals, as model cards
show them; other numbers as report.json holds them; Markdown tables; the plots a section embeds."""

from __future__ import annotations

from typing import Any


def fmt(value: float | None) -> str:
    """A correlation ×100, or a dash where there is none."""
    return "–" if value is None else f"{100 * value:.2f}"


def short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def pm(mean: float, std: float | None) -> str:
    """Mean ± std over seeds; one seed has no spread, shown as n/a (never ± 0.00)."""
    return f"{fmt(mean)} ± {fmt(std) if std is not None else 'n/a'}"


def spread(seeds: list[int]) -> str:
    listed = ", ".join(map(str, seeds))
    return f"mean ± std over seeds {listed}" if len(seeds) > 1 else f"one seed ({listed}), so the spread is n/a"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def embedded(report: dict[str, Any], name: str) -> list[str]:
    """The image line of one plot, where a section shows it next to its table."""
    return ["", f"![{p['title']}]({p['file']})"] if (p := plot(report, name)) else []


def plot(report: dict[str, Any], name: str) -> dict[str, str] | None:
    return next((entry for entry in report["plots"] if entry["file"] == name), None)


def layers(depth: int) -> str:
    return f"{depth} layer{'s' if depth != 1 else ''}"
