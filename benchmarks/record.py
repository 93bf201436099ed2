"""What every benchmark leaves behind: a printed table and a dated row in ``benchmarks/RESULTS.md``."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sweep.store import atomic

RESULTS_FILE = Path(__file__).resolve().parent / "RESULTS.md"
ROW_HEADER = (
    "| date (UTC) | benchmark | mode | measured | target | met | load (1 min, start → end) | command |\n"
    "|---|---|---|---|---|---|---|---|\n"
)


@dataclass
class Outcome:
    """One benchmark's result: its table, the headline figure and whether it meets the target."""

    name: str
    table: pd.DataFrame
    measured: str  # the headline figures, one line
    target: str
    met: bool | None  # None where the benchmark reports without a pass/fail target
    notes: list[str] = field(default_factory=list)


def load_average() -> float:
    """The machine's 1-minute load average: how busy the shared cores were."""
    return os.getloadavg()[0]


def print_outcome(outcome: Outcome) -> None:
    """The table a person reads on the terminal."""
    print(f"\n== {outcome.name} ==")
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.precision", 4):
        print(outcome.table.to_string(index=False))
    for note in outcome.notes:
        print(f"  note: {note}")
    verdict = {True: "met", False: "NOT met", None: "no pass/fail target"}[outcome.met]
    print(f"  {outcome.measured}  (target {outcome.target}: {verdict})")


def append_row(outcome: Outcome, mode: str, load_start: float, command: str, path: Path = RESULTS_FILE) -> None:
    """Append one dated row to the runs table at the end of RESULTS.md (created with its header if missing)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n## Runs\n\n"
    if ROW_HEADER not in text:
        text = text.rstrip("\n") + "\n\n" + ROW_HEADER
    met = {True: "yes", False: "**no**", None: "–"}[outcome.met]
    cells = (
        time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        outcome.name,
        mode,
        outcome.measured,
        outcome.target,
        met,
        f"{load_start:.2f} → {load_average():.2f} on {os.cpu_count()} cores",
        f"`{command}`",
    )
    row = "| " + " | ".join(str(cell).replace("|", "/") for cell in cells) + " |\n"
    atomic.write_text(path, text.rstrip("\n") + "\n" + row)
