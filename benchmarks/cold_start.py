"""2b. Cold start: from the launch of ``sweep run`` to its first trial's first optimizer step, over the time
that first trial takes.

Each start is a real ``python -m sweep run`` of a CPU recipe in a fresh process with a Ray of its own
(imports, validation, data loading, Ray's start, Tune's set-up, the worker's imports and model load),
stopped with SIGINT, as a user stops it, once its first trial has reported. The first trial's time comes
from the recipe's committed recording (``tests/data/simulate_*``), from its launch to its last report:
the sweep's first trial trains the same rows with the same config whichever run it is. Starting up does
not depend on the scheduler; the first trial's time does (PASHA ends it at its first top rung), so each
recording is a row of its own.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks.recipe import ROOT, RUNS_DIR
from benchmarks.record import Outcome
from benchmarks.session import Session
from benchmarks.sweeps import SweepRun
from sweep.store.folder import ExperimentFolder

TARGET = 0.05
RECORDINGS = ROOT / "tests" / "data"


@dataclass(frozen=True)
class Recipe:
    path: str  # the recipe, relative to the repository root
    recordings: tuple[str, ...]  # its committed sweeps under tests/data


RECIPES = (
    Recipe("search_spaces/minilm_cut_cpu.yaml", ("simulate_minilm_cut_cpu", "simulate_minilm_cut_cpu_pasha")),
    Recipe("search_spaces/minilm_cpu.yaml", ("simulate_minilm_cpu",)),
)


@dataclass(frozen=True)
class Start:
    """One cold start: seconds from launch to the trainable's entry and to its first optimizer step."""

    to_entry_s: float
    to_first_step_s: float
    ready_s: float | None  # `sweep run`'s own figure from its start (after the CLI's imports): inputs checked, Ray up


def run(session: Session) -> Outcome:
    repeats = 1 if session.quick else 3
    rows, shares = [], []
    for recipe in RECIPES:
        starts = [cold_start(recipe.path, f"cold-{Path(recipe.path).stem}-{n}") for n in range(repeats)]
        to_entry = statistics.median(start.to_entry_s for start in starts)
        to_first = statistics.median(start.to_first_step_s for start in starts)
        for name in recipe.recordings:
            first_trial_s = recorded_first_trial_s(RECORDINGS / name)
            # The first trial's time from the launch: the start-up up to its entry, then the trial itself.
            share = to_first / (to_entry + first_trial_s)
            shares.append(share)
            rows.append(
                {
                    "recipe": Path(recipe.path).stem,
                    "first trial as recorded": name,
                    "starts": len(starts),
                    "launch → trial entry s": _spread([s.to_entry_s for s in starts]),
                    "launch → first step s": _spread([s.to_first_step_s for s in starts]),
                    "checked + Ray ready s": _spread([s.ready_s for s in starts if s.ready_s is not None]),
                    "first trial s": round(first_trial_s, 1),
                    "share": share,
                }
            )
    table = pd.DataFrame(rows)
    worst = table.loc[table["share"].idxmax()]
    return Outcome(
        name="2b. cold start",
        table=table,
        measured=(
            "cold `sweep run` to the first step, median of "
            f"{repeats}: "
            + "; ".join(f"{r['recipe']} ({r['first trial as recorded']}) {r['share']:.1%}" for r in rows)
            + f"; worst {worst['share']:.1%}"
        ),
        target=f"≤ {TARGET:.0%} of the first trial's time",
        met=max(shares) <= TARGET,
        notes=["first trial's time from the committed recording; start-up measured here"],
    )


def cold_start(recipe: str, label: str) -> Start:
    """Launch ``python -m sweep run recipe``, stop it with SIGINT once its first trial has reported."""
    results = RUNS_DIR / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    results.mkdir(parents=True)
    log = results.parent / f"{results.name}.log"
    command = [sys.executable, "-m", "sweep", "run", recipe, "--results-dir", str(results)]
    print(f"[{label}] {' '.join(command[1:])}  (log: {log})", flush=True)
    with log.open("w") as handle:
        launched_at = time.time()
        process = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            reports = _first_reports(process, results)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
                process.wait(timeout=120)
    text = log.read_text()
    first = reports.sort_values("run_started_at").iloc[0]
    return Start(
        to_entry_s=float(first["run_started_at"] - launched_at),
        to_first_step_s=float(first["first_step_at"] - launched_at),
        ready_s=_logged(text, "Ray ready at "),
    )


def _first_reports(process: subprocess.Popen, results: Path) -> pd.DataFrame:
    """The report rows of the sweep in ``results`` once a trial has reported."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`sweep run` exited with {process.returncode} before a trial reported")
        folders = [path for path in results.iterdir() if path.is_dir()]
        if folders:
            try:
                _, reports = ExperimentFolder(folders[0]).live_results()
            except Exception:  # not a sweep yet, or a file half written: look again
                reports = pd.DataFrame()
            if len(reports) and reports["first_step_at"].notna().any():
                return reports
        time.sleep(0.5)
    raise RuntimeError("no trial reported within 15 minutes")


def recorded_first_trial_s(folder: Path) -> float:
    """The first trial's time in a recorded sweep: its trainable's entry to its last report."""
    trials, reports = ExperimentFolder(folder).saved_results()
    return float(SweepRun(0.0, trials, reports, 1, folder).per_trial().iloc[0]["wall_s"])


def _logged(text: str, prefix: str) -> float | None:
    for line in text.splitlines():
        if prefix in line:
            return float(line.split(prefix, 1)[1].split("s", 1)[0])
    return None


def _spread(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"
