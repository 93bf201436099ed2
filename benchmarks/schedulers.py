"""12. Schedulers compared on recorded curves in virtual time: which one spends the least compute and still
finds the best config.

A sweep here exists to rank configs: its winner is retrained on the full budget with fresh seeds afterwards.
So a scheduler is as good as the winner it picks and as cheap as the compute it spends. Every scheduler
``scheduler.type`` offers (``sweep.tuning.schedulers``: ASHA, Hyperband, the median rule, PASHA, none) is driven
through ``sweep simulate``'s replay (``sweep.simulate.replay.replay``: the sweep's own scheduler objects, in virtual
time, no Ray) on bootstrapped draws of three recordings' full-length curves (the trials that trained their
whole budget, drawn with replacement: resampled curves, not new searches):

- ``tests/data/simulate_minilm_cut_cpu`` (search_spaces/minilm_cut_cpu.yaml: 7 full-length curves of 16
  evaluations, STS-dev every 20 steps, the mean over depths under a full-depth margin);
- ``tests/data/simulate_minilm_cpu`` (the older CPU recipe: 9 full-length curves of 5 evaluations);
- ``tests/data/simulate_smoke`` (the tiny model: 6 full-length curves of 4 evaluations).

Per recording, draws of 32 and 128 trials (seeds 0..19; quick: 32 trials, seeds 0..4) on 1, 8 and 32
workers (as many trials at once). Per setting and cell: compute (worker-seconds from each trial's start to
its end) in full-run equivalents and against ASHA as the recording ran it ("ASHA as today"), wall time over
one full run, and how often the winner is the draw's best curve (the winner when every curve runs its
budget) or one within seed noise of it. Within seed noise: the winner's full-budget objective (the selection
rule over its whole recorded curve) is below the best curve's by less than sqrt(2) × the seed-to-seed
standard deviation of one run's objective, what two runs of one config differ by (``sweep.report.noise``); that
standard deviation per recording is in ``SEED_SD`` with where it was measured.

The default rule (the issue's): of the settings that find the best curve or one within seed noise in at
least 95% of all draws (every recording, trial count and worker count pooled, and in every recording at
least 90%), the one with the least compute against ASHA as today, averaged over the recordings. Targets:
at most half of ASHA-as-today's compute; the moonshot, 32 trials on 8 workers in at most 2× one full run
(mean over the draws of the cut recipe); the whole answer, the sweep plus the retrain's runs side by side on
8 workers, in at most 3.5×.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.recipe import ROOT
from benchmarks.record import Outcome
from benchmarks.session import Session
from benchmarks.simulate import Replayed, full_length, replay_draw
from sweep.config.experiment import ExperimentConfig
from sweep.simulate.replay import Curve, bootstrap
from sweep.simulate.summary import Recorded, read_recorded

DATA = ROOT / "tests" / "data"
RECORDINGS = ("simulate_minilm_cut_cpu", "simulate_minilm_cpu", "simulate_smoke")
# One run's objective, its standard deviation over retrain seeds (Spearman units), and where it was measured.
SEED_SD = {
    "simulate_minilm_cut_cpu": (0.00121, "STS-dev, the cut recipe's winner over seeds 13-15 (its report.json)"),
    "simulate_minilm_cpu": (
        0.0045,
        "STS-test, the older recipe: the per-seed difference of the mean over depths varied by 0.64 points "
        "between two arms, so one arm's by 0.64/sqrt(2)",
    ),
    "simulate_smoke": (0.01235, "STS-dev, the smoke recipe's winner and defaults over seeds 13-17, pooled"),
}
# Every setting replays the cut recording without its full-depth margin: a margin is refused under PASHA (the
# defaults' trial may be ranked after a fraction of the budget), and on that sweep it bound no trial anyway.
BASE = {"simulate_minilm_cut_cpu": ("objective.full_depth_margin=null",)}
WORKERS = (1, 8, 32)
MOONSHOT = ("simulate_minilm_cut_cpu", 32, 8)
MOONSHOT_RATIO, WHOLE_RATIO, COMPUTE_SHARE, WINNER_RATE, PER_RECORDING_RATE = 2.0, 3.5, 0.5, 0.95, 0.90
RETRAIN_RUNS = (4 * 5, 4 * 3)  # arms × seeds of the retrain by default, and of the CPU recipes (3 seeds)


@dataclass(frozen=True)
class Plan:
    trials: tuple[int, ...]
    draws: int


FULL, QUICK = Plan((32, 128), 20), Plan((32,), 5)


def candidates(recorded: Recorded) -> dict[str, tuple[str, ...]]:
    """The settings compared, by name: overrides on the recorded config (its patience kept, so that the
    scheduler alone differs, except in the two settings that say patience 1); grace periods beyond the
    recording's evaluations are left out."""
    graces = [grace for grace in (1, 2, 3) if grace <= recorded.recording.max_t]
    settings: dict[str, tuple[str, ...]] = {"none": ("scheduler.type=none",), "ASHA as today": ()}
    for kind in ("asha", "pasha"):
        for rf in (2, 3, 4):
            for grace in graces:
                settings[f"{kind} rf {rf} grace {grace}"] = _rungs(kind, rf, grace)
        # With patience 1 too: the default until 2026-12-06, measured beside the setting without it.
        settings[f"{kind} rf 3 grace 1, patience 1"] = (*_rungs(kind, 3, 1), "scheduler.patience=1")
    for brackets in (2, 3):
        settings[f"hyperband {brackets} brackets rf 3"] = (*_rungs("hyperband", 3, 1), f"scheduler.brackets={brackets}")
    for grace in graces:
        settings[f"median grace {grace}"] = ("scheduler.type=median", f"scheduler.grace_period={grace}")
    return settings


def _rungs(kind: str, rf: int, grace: int) -> tuple[str, ...]:
    return (f"scheduler.type={kind}", f"scheduler.reduction_factor={rf}", f"scheduler.grace_period={grace}")


@dataclass(frozen=True)
class Cell:
    """One setting on one recording at one trial and worker count: a replay per draw."""

    recording: str
    setting: str
    trials: int
    workers: int
    runs: list[Replayed]
    today: list[Replayed]  # ASHA as the recording ran it, same draws and workers
    best: list[str | None]  # each draw's best curve (source id)
    within: list[bool]  # per draw: the winner is the best curve or within seed noise of it
    full_run_s: float

    @property
    def compute(self) -> float:
        return float(np.mean([r.compute_s for r in self.runs])) / self.full_run_s

    @property
    def compute_vs_today(self) -> float:
        return float(np.mean([r.compute_s / t.compute_s for r, t in zip(self.runs, self.today, strict=True)]))

    @property
    def wall(self) -> np.ndarray:
        return np.array([r.wall_s for r in self.runs]) / self.full_run_s

    @property
    def found_best(self) -> int:
        return sum(r.winner == b for r, b in zip(self.runs, self.best, strict=True))


def full_budget_value(curve: Curve, config: ExperimentConfig) -> float:
    """The curve's objective at the evaluation the selection rule picks over its whole recorded budget."""
    chosen = config.objective.selection.choose(curve.rows)
    return float(curve.rows[chosen][config.objective.metrics[0]]) if chosen is not None else -math.inf


def measure_recording(name: str, plan: Plan) -> tuple[list[Cell], Recorded, int]:
    recorded = read_recorded(str(DATA / name))
    curves = full_length(recorded)
    value = {c.source: full_budget_value(c, recorded.config) for c in curves}
    noise = math.sqrt(2) * SEED_SD[name][0]
    base = BASE.get(name, ())
    settings = {label: recorded.setting((*base, *o)) for label, o in candidates(recorded).items()}
    cells = []
    for trials in plan.trials:
        draws = [bootstrap(curves, trials, seed) for seed in range(plan.draws)]
        best = [replay_draw(recorded, draw, settings["none"], trials).winner for draw in draws]
        for workers in (w for w in WORKERS if w <= trials):
            today = [replay_draw(recorded, draw, settings["ASHA as today"], workers) for draw in draws]
            for label, config in settings.items():
                runs = today if label == "ASHA as today" else [replay_draw(recorded, d, config, workers) for d in draws]
                within = [
                    b is not None and run.winner is not None and value[b] - value[run.winner] < noise
                    for run, b in zip(runs, best, strict=True)
                ]
                cells.append(
                    Cell(name, label, trials, workers, runs, today, best, within, recorded.recording.full_run_s)
                )
    return cells, recorded, len(curves)


@dataclass(frozen=True)
class Figures:
    cells: list[Cell]
    recorded: dict[str, Recorded]
    curves: dict[str, int]
    cpu_s: float

    def summary(self) -> pd.DataFrame:
        """One row per setting: the winner rates and compute over every cell, and per recording."""
        rows = []
        for setting in dict.fromkeys(c.setting for c in self.cells):
            cells = [c for c in self.cells if c.setting == setting]
            row: dict[str, Any] = {"setting": setting}
            within = [w for c in cells for w in c.within]
            row["within noise"] = float(np.mean(within))
            row["best curve"] = sum(c.found_best for c in cells) / sum(len(c.runs) for c in cells)
            per: dict[str, tuple[float, float]] = {}
            for name in RECORDINGS:
                mine = [c for c in cells if c.recording == name]
                if not mine:
                    continue
                per[name] = (
                    float(np.mean([w for c in mine for w in c.within])),
                    float(np.mean([c.compute_vs_today for c in mine])),
                )
                row[f"{_short(name)} within"] = per[name][0]
                row[f"{_short(name)} compute/today"] = per[name][1]
            row["compute/today"] = float(np.mean([v[1] for v in per.values()]))
            row["lowest recording rate"] = min(v[0] for v in per.values())
            moon = self.cell(*MOONSHOT, setting)
            row["cut 32 on 8: wall/full run"] = float(moon.wall.mean()) if moon else float("nan")
            rows.append(row)
        return pd.DataFrame(rows)

    def cell(self, recording: str, trials: int, workers: int, setting: str) -> Cell | None:
        found = [
            c
            for c in self.cells
            if (c.recording, c.trials, c.workers, c.setting) == (recording, trials, workers, setting)
        ]
        return found[0] if found else None

    def cell_at(self, recording: str, trials: int, workers: int, setting: str) -> Cell:
        """The cell, which the benchmark ran: a LookupError otherwise."""
        found = self.cell(recording, trials, workers, setting)
        if found is None:
            raise LookupError(f"no cell for {recording}, {trials} trials on {workers} workers, {setting}")
        return found

    def default(self) -> pd.Series | None:
        """The issue's rule: the least compute against ASHA as today among the settings that find the best
        curve or one within seed noise often enough."""
        summary = self.summary()
        eligible = summary[
            (summary["within noise"] >= WINNER_RATE)
            & (summary["lowest recording rate"] >= PER_RECORDING_RATE)
            & (summary["setting"] != "none")
        ]
        return eligible.sort_values("compute/today").iloc[0] if len(eligible) else None


def _short(name: str) -> str:
    return {"simulate_minilm_cut_cpu": "cut", "simulate_minilm_cpu": "old", "simulate_smoke": "smoke"}[name]


def measure(plan: Plan) -> Figures:
    began = time.process_time()
    cells, recorded, curves = [], {}, {}
    for name in RECORDINGS:
        found, recorded[name], curves[name] = measure_recording(name, plan)
        cells += found
    return Figures(cells, recorded, curves, time.process_time() - began)


def table(figures: Figures) -> pd.DataFrame:
    summary = figures.summary().sort_values("compute/today")
    shown = summary.copy()
    for column in shown.columns:
        if column.endswith(("within", "within noise", "best curve", "compute/today", "rate")):
            shown[column] = shown[column].map(lambda v: f"{v:.0%}")
        elif column.endswith("wall/full run"):
            shown[column] = shown[column].map(lambda v: f"{v:.2f}×")
    return shown


def whole_answer(sweep_wall: float, runs: int, workers: int = 8) -> float:
    """The sweep's wall plus the retrain's runs side by side on ``workers`` (rounds of full runs), in full runs."""
    return sweep_wall + math.ceil(runs / workers)


def headline(figures: Figures) -> str:
    chosen = figures.default()
    today = figures.summary().set_index("setting").loc["ASHA as today"]
    if chosen is None:
        return "no setting found the best curve or one within seed noise in 95% of draws"
    moon = chosen["cut 32 on 8: wall/full run"]
    return (
        f"default by the rule: {chosen['setting']}: {chosen['compute/today']:.0%} of ASHA-as-today's compute, "
        f"winner within seed noise in {chosen['within noise']:.1%} of draws (best curve {chosen['best curve']:.1%}); "
        f"ASHA as today {today['within noise']:.1%}; cut recipe, 32 trials on 8 workers: {moon:.2f}× one full run "
        f"(ASHA as today {today['cut 32 on 8: wall/full run']:.2f}×); with the retrain's "
        f"{RETRAIN_RUNS[0]} runs side by side on 8 workers {whole_answer(moon, RETRAIN_RUNS[0]):.2f}×, with "
        f"{RETRAIN_RUNS[1]} runs {whole_answer(moon, RETRAIN_RUNS[1]):.2f}×"
    )


def _scheduler(config: ExperimentConfig) -> str:
    s = config.scheduler
    return f"{s.type} grace {s.grace_period} rf {s.reduction_factor:g} patience {s.patience}"


def cell_lines(figures: Figures, setting: str) -> list[str]:
    """Per recording, trial and worker count: ``setting`` beside ASHA as today and no early stopping, in
    compute (full runs), wall over one full run and draws whose winner is within seed noise of the best."""
    lines = []
    for name in RECORDINGS:
        for trials, workers in sorted({(c.trials, c.workers) for c in figures.cells if c.recording == name}):
            cells = [figures.cell_at(name, trials, workers, s) for s in (setting, "ASHA as today", "none")]
            lines.append(
                f"{_short(name)}, {trials} trials on {workers} workers: compute "
                + " / ".join(f"{c.compute:.1f}" for c in cells)
                + " full runs, wall "
                + " / ".join(f"{c.wall.mean():.2f}×" for c in cells)
                + ", winner within seed noise "
                + " / ".join(f"{sum(c.within)}/{len(c.within)}" for c in cells)
                + f" ({setting} / ASHA as today / none)"
            )
    return lines


def notes(figures: Figures, plan: Plan) -> list[str]:
    names = RECORDINGS
    chosen = figures.default()
    lines = [
        "resampled curves, not new searches: per recording, draws with replacement from its full-length curves ("
        + ", ".join(
            f"{_short(n)} {figures.curves[n]} of {len(figures.recorded[n].recording.curves)}" for n in RECORDINGS
        )
        + f"), seeds 0..{plan.draws - 1}, trials {', '.join(map(str, plan.trials))}, workers "
        + ", ".join(map(str, WORKERS)),
        "ASHA as today: each recording's own scheduler settings ("
        + "; ".join(f"{_short(n)}: {_scheduler(figures.recorded[n].config)}" for n in names)
        + "); every other setting keeps the recording's patience, except the two that say patience 1",
        "the cut recording is replayed without its objective.full_depth_margin (0.005) in every setting, since "
        "PASHA refuses a margin and on that sweep all 7 completed trials were feasible anyway",
        "seed noise: " + "; ".join(f"{_short(n)} sd {SEED_SD[n][0]} ({SEED_SD[n][1]})" for n in RECORDINGS),
        "the whole answer adds the retrain as rounds of full runs on 8 workers (a retrain run is about one full "
        "run: the same budget; the untrained model's scoring is seconds)",
        f"the whole benchmark: {figures.cpu_s:.0f} s of CPU, no Ray started",
    ]
    return lines + (cell_lines(figures, chosen["setting"]) if chosen is not None else [])


def run(session: Session) -> Outcome:
    plan = QUICK if session.quick else FULL
    figures = measure(plan)
    chosen = figures.default()
    met = None
    if chosen is not None:
        moon = chosen["cut 32 on 8: wall/full run"]
        met = bool(
            chosen["compute/today"] <= COMPUTE_SHARE
            and moon <= MOONSHOT_RATIO
            and whole_answer(moon, RETRAIN_RUNS[0]) <= WHOLE_RATIO
        )
    return Outcome(
        name="12. schedulers",
        table=table(figures),
        measured=headline(figures),
        target=(
            f"winner within seed noise in ≥ {WINNER_RATE:.0%} of draws at ≤ {COMPUTE_SHARE:.0%} of ASHA-as-today's "
            f"compute; 32 trials on 8 workers ≤ {MOONSHOT_RATIO:g}× one full run; with the retrain ≤ {WHOLE_RATIO:g}×"
        ),
        met=met,
        notes=notes(figures, plan),
    )
