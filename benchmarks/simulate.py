"""9. Scale figures of `sweep simulate`'s replay: sweeps of 32 to 4,096 trials on 1 to 256 workers.

Curves: the recorded sweep of the CPU recipe (``tests/data/simulate_minilm_cpu``: search_spaces/minilm_cpu.yaml,
20 trials of 200 steps, STS-dev every 40 steps, ASHA with grace period 1 and reduction factor 3, one trial at a
time). Quick mode reads the 12-trial smoke recording (``tests/data/simulate_smoke``, tiny model, ASHA with
reduction factor 2) on a smaller grid with fewer draws: it shows that the code path works, not the recipe's figures.

Resampled curves, not new searches: every sweep here is its trials drawn with replacement
(``sweep.simulate.replay.bootstrap``, seeds 0, 1, ...) from the recording's *full-length* curves only, the trials that
trained their whole budget. The recorded sweep stopped the others early, so their curves end early, and
without early stopping every trial must be able to run its budget. Each arm and worker count replays the
same draws, through the sweep's own scheduler (``sweep.simulate.replay.replay``, no Ray started), with as many
trials at once as workers (``search.max_concurrent`` set to the workers; the recipe runs one at a time).

Arms: no early stopping (``scheduler.type=none``, no patience); ASHA as recorded; ASHA with patience 1 (the
smallest the config allows: a trial ends at its first evaluation without a new best). Per trial count,
worker count and arm, over the draws (mean, min–max): wall time (the first start to the last trial's end,
in virtual time) over one full training run (the recording's ``full_run_s``: the median run that trained
its whole budget), compute (worker-seconds from each trial's start to its end) in full-run equivalents
and against no early stopping on the same draw, and in how many draws the arm's winner (the objective's
rule on the reports it reached) is the draw's best curve (the winner when every curve runs its budget).

The moonshot: a 32-trial sweep on 8 workers answers (sweep phase done, best known) in at most twice the time
of one full run. Where the recorded setting stands, then which of reduction factor 2, 3, 4, 8 x grace
period 1, 2 x patience none, 1 comes closest, and whether it still finds the best curve.

The simulator's own cost: scheduler decisions per second of this process's CPU (``time.process_time``
around each replay), per arm, at the largest cell (4,096 trials on 256 workers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.recipe import ROOT
from benchmarks.record import Outcome
from benchmarks.session import Session
from sweep.config.experiment import ExperimentConfig
from sweep.simulate.replay import Curve, bootstrap, replay
from sweep.simulate.summary import Recorded, read_recorded


@dataclass(frozen=True)
class Plan:
    """What one mode replays."""

    recording: Path
    trials: tuple[int, ...]
    workers: tuple[int, ...]  # a worker count above the trials is left out: the extra workers would idle
    draws: int  # bootstrap seeds 0 .. draws - 1


DATA = ROOT / "tests" / "data"
FULL = Plan(DATA / "simulate_minilm_cpu", (32, 128, 512, 1024, 4096), (1, 8, 32, 256), 5)
QUICK = Plan(DATA / "simulate_smoke", (32, 128), (1, 8), 2)
MOONSHOT_TRIALS, MOONSHOT_WORKERS, MOONSHOT_RATIO = 32, 8, 2.0
TARGET = f"moonshot: {MOONSHOT_TRIALS} trials on {MOONSHOT_WORKERS} workers ≤ {MOONSHOT_RATIO:g}× one full run"
NO_STOPPING, NONE_SETTING = ("scheduler.type=none", "scheduler.patience=null"), "no early stopping"
SEARCHED = [(rf, grace, patience) for rf in (2, 3, 4, 8) for grace in (1, 2) for patience in (None, 1)]


@dataclass(frozen=True)
class Replayed:
    """One replay of one draw: its figures and the curve its winner came from."""

    wall_s: float
    compute_s: float  # worker-seconds: each trial's start to its end, summed
    calls: int  # scheduler decisions
    cpu_s: float  # this process's CPU inside the replay
    winner: str | None


@dataclass(frozen=True)
class Cell:
    """One setting at one trial and worker count: one replay per draw."""

    part: str  # "scale" (the arms) or "moonshot" (the searched settings)
    setting: str
    trials: int
    workers: int
    runs: list[Replayed]
    baseline: list[Replayed]  # no early stopping on the same draws and workers
    best: list[str | None]  # each draw's best curve: its winner when every curve runs its budget
    full_run_s: float  # one full training run of the recording

    @property
    def found_best(self) -> int:
        return sum(run.winner == best for run, best in zip(self.runs, self.best, strict=True))

    @property
    def decisions_per_cpu_s(self) -> float:
        cpu_s = sum(run.cpu_s for run in self.runs)
        return sum(run.calls for run in self.runs) / cpu_s if cpu_s > 0 else float("nan")

    @property
    def wall(self) -> np.ndarray:
        """Each draw's wall time in full runs."""
        return np.array([run.wall_s for run in self.runs]) / self.full_run_s

    @property
    def compute(self) -> np.ndarray:
        """Each draw's compute in full runs."""
        return np.array([run.compute_s for run in self.runs]) / self.full_run_s

    def compute_vs_none(self) -> np.ndarray:
        return np.array([r.compute_s / b.compute_s for r, b in zip(self.runs, self.baseline, strict=True)])


@dataclass(frozen=True)
class Figures:
    """Everything one run of the benchmark measured."""

    recorded: Recorded
    curves: list[Curve]  # the full-length recorded curves every draw is made of
    cells: list[Cell]
    recorded_setting: str
    cpu_s: float  # the whole benchmark's CPU

    def cell(self, part: str, setting: str, trials: int, workers: int) -> Cell:
        (found,) = [
            c for c in self.cells if (c.part, c.setting, c.trials, c.workers) == (part, setting, trials, workers)
        ]
        return found

    def moonshot(self, setting: str) -> Cell:
        """An arm (the recorded setting, no early stopping) at the moonshot's trials and workers."""
        return self.cell("scale", setting, MOONSHOT_TRIALS, MOONSHOT_WORKERS)

    def closest(self, finding_best: bool = False) -> Cell | None:
        """The searched setting with the lowest mean wall (of those that found the best curve in every draw)."""
        searched = [c for c in self.cells if c.part == "moonshot" and (c.found_best == len(c.runs) or not finding_best)]
        return min(searched, key=lambda c: c.wall.mean()) if searched else None

    def largest(self) -> list[Cell]:
        """The arms at the most trials and workers, in order: no early stopping, as recorded, patience 1."""
        trials, workers = max(c.trials for c in self.cells), max(c.workers for c in self.cells)
        return [c for c in self.cells if c.part == "scale" and (c.trials, c.workers) == (trials, workers)]


def full_length(recorded: Recorded) -> list[Curve]:
    """The recorded curves that trained their whole budget: what every draw is made of."""
    curves = [c for c in recorded.recording.curves if c.full_length]
    if not curves:
        raise ValueError(f"{recorded.folder}: no trial trained its whole budget, so no curve can be resampled")
    return curves


def describe(config: ExperimentConfig) -> str:
    """A setting in a few words."""
    scheduler = config.scheduler
    patience = f"patience {scheduler.patience}" if scheduler.patience else "no patience"
    if scheduler.type == "none":
        return NONE_SETTING + (f", {patience}" if scheduler.patience else "")
    return f"ASHA rf {scheduler.reduction_factor:g}, grace {scheduler.grace_period}, {patience}"


def measure(plan: Plan) -> Figures:
    """Replay every cell of ``plan`` and the moonshot's with the three arms, and the moonshot's cell with every
    searched setting."""
    began = time.process_time()
    recorded = read_recorded(str(plan.recording))
    curves = full_length(recorded)
    none = recorded.setting(NO_STOPPING)
    as_recorded = recorded.setting(("scheduler.type=asha",))
    arms = [none, as_recorded, recorded.setting(("scheduler.type=asha", "scheduler.patience=1"))]
    searched = [
        recorded.setting(
            (
                "scheduler.type=asha",
                f"scheduler.reduction_factor={rf}",
                f"scheduler.grace_period={grace}",
                f"scheduler.patience={'null' if patience is None else patience}",
            )
        )
        for rf, grace, patience in SEARCHED
    ]
    grid = {(t, w) for t in plan.trials for w in plan.workers if w <= t}
    moonshot = (MOONSHOT_TRIALS, MOONSHOT_WORKERS)
    cells = []
    for trials in sorted({t for t, _ in grid | {moonshot}}):
        draws = [bootstrap(curves, trials, seed) for seed in range(plan.draws)]
        # Every curve runs its budget without early stopping, and all at once finishes soonest.
        best = [replay_draw(recorded, draw, none, trials).winner for draw in draws]
        for workers in sorted(w for t, w in grid | {moonshot} if t == trials):
            baseline = [replay_draw(recorded, draw, none, workers) for draw in draws]
            settings = [("scale", c) for c in arms]
            settings += [("moonshot", c) for c in searched] if (trials, workers) == moonshot else []
            for part, config in settings:
                runs = baseline if config is none else [replay_draw(recorded, d, config, workers) for d in draws]
                setting = describe(config)
                cells.append(Cell(part, setting, trials, workers, runs, baseline, best, recorded.recording.full_run_s))
    return Figures(recorded, curves, cells, describe(as_recorded), time.process_time() - began)


def replay_draw(recorded: Recorded, draw: list[Curve], config: ExperimentConfig, workers: int) -> Replayed:
    """One draw replayed under ``config`` on ``workers``: its figures and its winner's trial id."""
    began = time.process_time()
    outcome = replay(draw, config, workers, recorded.recording.max_t)
    cpu_s = time.process_time() - began
    winner = recorded.winner(draw, outcome, config)["trial_id"]
    return Replayed(outcome.wall_s, sum(outcome.busy_s.values()), outcome.calls, cpu_s, winner)


def _spread(values: np.ndarray, unit: str = "") -> str:
    """Mean and min–max over the draws: no single draw's figure is exact."""
    if len(values) == 1 or values.min() == values.max():
        return f"{values.mean():.2f}{unit}"
    return f"{values.mean():.2f}{unit} ({values.min():.2f}–{values.max():.2f})"


def table(figures: Figures) -> pd.DataFrame:
    """One row per cell: the arms over the grid, then the moonshot's settings from the closest."""
    scale = [c for c in figures.cells if c.part == "scale"]
    moonshot = sorted((c for c in figures.cells if c.part == "moonshot"), key=lambda c: c.wall.mean())
    rows = []
    for cell in scale + moonshot:
        rows.append(
            {
                "part": cell.part,
                "setting": cell.setting + (" (recorded)" if cell.setting == figures.recorded_setting else ""),
                "trials": cell.trials,
                "workers": cell.workers,
                "wall / full run": _spread(cell.wall, "×"),
                "compute, full runs": _spread(cell.compute),
                "compute / none": f"{cell.compute_vs_none().mean():.0%}",
                "best found": f"{cell.found_best}/{len(cell.runs)}",
                "decisions/s CPU": f"{cell.decisions_per_cpu_s:,.0f}",
            }
        )
    return pd.DataFrame(rows)


def headline(figures: Figures) -> str:
    """The moonshot where the recorded setting stands and what comes closest; compute and speed at the largest."""
    recorded, none, closest = (
        figures.moonshot(figures.recorded_setting),
        figures.moonshot(NONE_SETTING),
        figures.closest(),
    )
    if closest is None:
        raise LookupError("the moonshot part searched no setting")
    draws, largest = len(recorded.runs), figures.largest()
    patience = largest[-1]
    return (
        f"{MOONSHOT_TRIALS} trials on {MOONSHOT_WORKERS} workers, {figures.recorded_setting}: wall "
        f"{_spread(recorded.wall, '×')} one full run over {draws} draws (no early stopping {_spread(none.wall, '×')}); "
        f"closest searched: {closest.setting}, {_spread(closest.wall, '×')}, best curve found in "
        f"{closest.found_best}/{draws}; {patience.trials:,} trials on {patience.workers} workers: {patience.setting} "
        f"uses {patience.compute_vs_none().mean():.0%} of no early stopping's compute; replay "
        + ", ".join(f"{c.decisions_per_cpu_s:,.0f}" for c in largest)
        + " decisions/s of CPU (no stopping, ASHA, ASHA + patience)"
    )


def notes(figures: Figures, plan: Plan) -> list[str]:
    """What the figures rest on, and the figures the headline leaves out."""
    recording, draws = figures.recorded.recording, plan.draws
    finding, largest = figures.closest(finding_best=True), figures.largest()
    return [
        f"resampled curves, not new searches: every sweep draws its trials with replacement from the "
        f"{len(figures.curves)} full-length curves (trials that trained their whole budget) of the "
        f"{len(recording.curves)}-trial recording {plan.recording.relative_to(ROOT)}, seeds 0..{draws - 1}; "
        "every arm and worker count replays the same draws",
        f"one full run = {recording.full_run_s:.1f} s (the recording's median full-length run, start-up "
        "included); wall: the first start to the last trial's end in virtual time, each trial keeping its "
        "recorded start gap; compute: worker-seconds from each trial's start to its end; figures are means "
        "over the draws (min–max)",
        "best found: draws in which the setting's winner (the objective's rule on the reports it reached) is "
        "the draw's best curve (the winner when every curve runs its budget), so always all of them without "
        "early stopping",
        f"met: the mean over the draws of the recorded setting ({figures.recorded_setting}) with as many "
        "trials at once as workers; the closest searched setting that finds the best curve in every draw: "
        + (f"{finding.setting}, {_spread(finding.wall, '×')}" if finding else "none"),
        f"the simulator's own cost at {largest[0].trials:,} trials on {largest[0].workers} workers, decisions "
        "per CPU second: "
        + "; ".join(
            f"{c.setting} {c.decisions_per_cpu_s:,.0f} ({sum(r.calls for r in c.runs) // draws:,} decisions per replay)"
            for c in largest
        ),
        f"the whole benchmark: {figures.cpu_s:.0f} s of CPU, no Ray started",
    ]


def run(session: Session) -> Outcome:
    plan = QUICK if session.quick else FULL
    figures = measure(plan)
    return Outcome(
        name="9. simulated scale",
        table=table(figures),
        measured=headline(figures),
        target=TARGET,
        met=bool(figures.moonshot(figures.recorded_setting).wall.mean() <= MOONSHOT_RATIO),
        notes=notes(figures, plan),
    )
