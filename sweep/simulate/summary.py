"""``sweep simulate DIR``: replays a recorded sweep per setting (see ``sweep.simulate.replay``) and writes what it
found into the folder: ``simulate.json`` for programs, ``simulate.md`` and ``simulate.png`` for people."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after matplotlib.use: the backend is chosen before pyplot loads
import pandas as pd

from sweep.config.experiment import ExperimentConfig, check_override_keys
from sweep.config.objective import check_objective_depth
from sweep.report.markdown import table
from sweep.simulate.replay import (
    CURVE_ENDS,
    Curve,
    Outcome,
    Recording,
    bootstrap,
    decisions_matched,
    read_recording,
    replay,
)
from sweep.store.folder import SIMULATE_PLOT, ExperimentFolder
from sweep.store.ranking import FEASIBLE, standings
from sweep.tuning.schedulers import build_scheduler
from trainables.errors import InputError
from trainables.train_config import MAX_SEED

# What a replay can change: the decisions, and what picks the winner (every depth is recorded, so any
# objective can be read off the recorded evaluations). Anything else would need curves never recorded.
CHANGEABLE = ("scheduler.", "search.max_concurrent", "objective.")
RESAMPLED = "resampled curves: recorded trials drawn again with replacement, not new searches"


@dataclass(frozen=True)
class Recorded:
    """An experiment folder read for replay: its config as recorded, its frames and its curves."""

    folder: ExperimentFolder
    config: ExperimentConfig
    trials: pd.DataFrame
    reports: pd.DataFrame
    recording: Recording

    def setting(self, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
        """The recorded config with scheduler ``overrides`` (InputError: one a replay cannot make, or a
        grace period beyond the recorded budget)."""
        check_overrides(overrides)
        config = self.folder.config(overrides)
        check_objective_depth(config.objective, self.folder.meta().n_layers)  # a depth the model has
        build_scheduler(config, self.recording.max_t)
        return config

    def winner(self, curves: list[Curve], outcome: Outcome | None, config: ExperimentConfig) -> dict[str, Any]:
        """``winner`` on this folder's frames."""
        return winner(self.trials, self.reports, curves, outcome, config)


def read_recorded(location: str) -> Recorded:
    """The experiment folder ``location`` read for replay (InputError: not one, or nothing to replay)."""
    folder = ExperimentFolder(location)
    config = folder.config()
    trials, reports = folder.results()
    recording = read_recording(trials, reports, config, folder.meta().max_evaluations)
    return Recorded(folder, config, trials, reports, recording)


def check_overrides(overrides: list[str] | tuple[str, ...]) -> None:
    """InputError for an override a replay cannot make: it can change the decisions, not the curves."""
    check_override_keys(
        overrides, CHANGEABLE, "a replay can only change scheduler.*, objective.* and search.max_concurrent"
    )


@dataclass(frozen=True)
class Simulation:
    """What ``simulate_experiment`` wrote: simulate.json's record and simulate.md's text."""

    record: dict[str, Any]
    markdown: str


def simulate_experiment(
    location: str,
    workers: list[int] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    bootstrap_trials: int | None = None,
    seed: int = 0,
    command: str = "",
) -> Simulation:
    """Replay the experiment folder ``location`` once per worker count (by default the recorded
    concurrency) with the scheduler ``overrides``, and once as recorded to check the replay against
    the real run; write simulate.json, simulate.md and simulate.png there. Every input is checked
    before anything is replayed or written (InputError)."""
    check_overrides(overrides)
    if any(n < 1 for n in workers or []):
        raise InputError(f"--workers: {min(workers or [])}; give 1 or more workers")
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed: {seed}; give 0..{MAX_SEED} (numpy's seed range)")
    recorded = read_recorded(location)
    folder, recording = recorded.folder, recorded.recording
    recorded_config, config = recorded.config, recorded.setting(overrides)
    curves = recording.curves if bootstrap_trials is None else bootstrap(recording.curves, bootstrap_trials, seed)

    check = replay(recording.curves, recorded_config, recording.concurrency, recording.max_t)
    matched, total, differences = decisions_matched(recording.curves, check)
    recorded_winner = recorded.winner(recording.curves, None, recorded_config)
    # The recorded trials, as the recorded scheduler left them, judged by the objective asked for.
    objective_winner = recorded.winner(recording.curves, None, config)
    settings, outcomes = [], [check]
    for n in workers or [recording.concurrency]:
        concurrency = min(n, config.search.max_concurrent)
        outcome = replay(curves, config, concurrency, recording.max_t)
        outcomes.append(outcome)
        found = recorded.winner(curves, outcome, config)
        settings.append(
            {
                "workers": n,
                "concurrency": concurrency,
                "trials": len(curves),
                "wall_s": outcome.wall_s,
                "compute_s": sum(outcome.busy_s.values()),
                "full_run_equivalents": sum(outcome.busy_s.values()) / recording.full_run_s,
                "stopped_at_rung": {str(rung): outcome.stopped_at[rung] for rung in sorted(outcome.stopped_at)},
                **{
                    key.replace(" ", "_"): _count(outcome, key)
                    for key in ("completed", "pruned", CURVE_ENDS, "errored")
                },
                "winner": found["trial_id"],
                "winner_sts_dev": found["score"],
                # null where the recorded sweep has no winner (no trial completed): nothing to compare with
                "same_winner": None
                if recorded_winner["trial_id"] is None
                else found["trial_id"] == recorded_winner["trial_id"],
            }
        )
    calls, seconds = sum(o.calls for o in outcomes), sum(o.seconds for o in outcomes)
    record = {
        "experiment": folder.location,
        "command": command,
        "overrides": list(overrides),
        "scheduler": config.scheduler.model_dump(),
        "max_concurrent": config.search.max_concurrent,
        "bootstrap": None
        if bootstrap_trials is None
        else {"trials": bootstrap_trials, "seed": seed, "note": RESAMPLED},
        "recorded": {
            "trials": len(recording.curves),
            "concurrency": recording.concurrency,
            "wall_s": recording.wall_s,
            "full_run_s": recording.full_run_s,
            "winner": recorded_winner["trial_id"],
            "winner_sts_dev": recorded_winner["score"],
        },
        "objective": {
            "recorded": {**recorded_config.objective.model_dump(mode="json"), "description": _said(recorded_config)},
            "replayed": {**config.objective.model_dump(mode="json"), "description": _said(config)},
            "changed": config.objective != recorded_config.objective,
            # Among the recorded trials (the recorded decisions): what the replayed objective would have picked.
            "winner": objective_winner["trial_id"],
            "winner_score": objective_winner["score"],
            "recorded_winner": recorded_winner["trial_id"],
            "feasible": objective_winner["feasible"],
        },
        "settings": settings,
        "replay_check": {
            "decisions_matched": matched,
            "decisions_total": total,
            "differences": differences,
            "wall_s": check.wall_s,
            "recorded_wall_s": recording.wall_s,
            "wall_error": check.wall_s / recording.wall_s - 1 if recording.wall_s > 0 else 0.0,
        },
        "speed": {"decisions": calls, "seconds": seconds, "decisions_per_s": calls / seconds if seconds > 0 else None},
    }
    markdown = render_simulate_md(record)
    folder.write_simulation(record, markdown, _plot(record))
    return Simulation(record, markdown)


def _said(config: ExperimentConfig) -> str:
    """The objective in words, with its constraint where it has one."""
    margin = config.objective.full_depth_margin
    limit = "" if margin is None else f", full depth at least the reference defaults' minus {margin:g}"
    return config.objective.describe() + limit


def _count(outcome: Outcome, status: str) -> int:
    return sum(1 for s in outcome.statuses.values() if s == status)


def winner(
    trials: pd.DataFrame, reports: pd.DataFrame, curves: list[Curve], outcome: Outcome | None, config: ExperimentConfig
) -> dict[str, Any]:
    """The trial the report would retrain, by its selection rule (``sweep.config.objective``): the recorded
    winner (no ``outcome``), or the replay's, from the reports it reached; its recorded id and score."""
    if outcome is None:
        seen_trials, seen_reports = trials, reports
    else:
        by_id = {str(row["trial_id"]): row for row in trials.to_dict("records")}
        status = {CURVE_ENDS: "unfinished"}  # its rest was never recorded: it cannot be judged complete
        rows, evaluations = [], []
        for curve in curves:
            state = outcome.statuses.get(curve.trial_id, "unfinished")
            rows.append({**by_id[curve.source], "trial_id": curve.trial_id, "status": status.get(state, state)})
            reached = curve.rows[: len(outcome.decisions.get(curve.trial_id, []))]
            evaluations += [{**row, "trial_id": curve.trial_id} for row in reached]
        seen_trials = pd.DataFrame(rows, columns=trials.columns)
        seen_reports = pd.DataFrame(evaluations, columns=reports.columns)
    ranking = standings(seen_trials, seen_reports, config.objective, config.reference)
    # How many completed trials meet objective.full_depth_margin; None without one.
    feasible = None if config.objective.full_depth_margin is None else int(ranking[FEASIBLE].sum())
    if ranking.empty or not bool(ranking.iloc[0][FEASIBLE]):
        return {"trial_id": None, "score": None, "feasible": feasible}
    best = ranking.iloc[0]  # what select_best picks
    return {
        "trial_id": str(best["trial_id"]).split("#")[0],
        "score": float(best[config.objective.metrics[0]]),
        "feasible": feasible,
    }


def _duration(seconds: float) -> str:
    if seconds >= 7200:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"


def render_simulate_md(record: dict[str, Any]) -> str:
    """simulate.md: the settings table, the replay check, and what the figures rest on."""
    recorded, check, speed = record["recorded"], record["replay_check"], record["speed"]
    scheduler = ", ".join(f"{k} {v}" for k, v in record["scheduler"].items())
    rows = [
        [
            str(s["workers"]),
            str(s["concurrency"]),
            _duration(s["wall_s"]),
            f"{_duration(s['compute_s'])} ({s['full_run_equivalents']:.1f})",
            ", ".join(f"{rung}: {n}" for rung, n in s["stopped_at_rung"].items()) or "none",
            f"{s['completed']} / {s['curve_ends']}",
            f"`{s['winner']}`" if s["winner"] else "none",
            f"{s['winner_sts_dev']:.4f}" if s["winner_sts_dev"] is not None else "–",
            {True: "yes", False: "**no**", None: "–"}[s["same_winner"]],
        ]
        for s in record["settings"]
    ]
    header = ["workers", "at once", "wall time", "compute (full runs)", "stopped at rung", "completed / curve ends"]
    lines = [
        f"# Simulated sweeps: {record['experiment']}",
        "",
        f"`{record['command']}`" if record["command"] else "",
        "",
        f"Scheduler: {scheduler}; search.max_concurrent {record['max_concurrent']}"
        + (f" (changed: {', '.join(record['overrides'])})" if record["overrides"] else " (as recorded)")
        + ".",
        "",
        *table([*header, "winner", "its best STS-dev", "same winner"], rows),
        "",
        f"Recorded: {recorded['trials']} trial{'s' if recorded['trials'] != 1 else ''}, "
        f"{recorded['concurrency']} at once, trial phase {_duration(recorded['wall_s'])}, one full run "
        f"{_duration(recorded['full_run_s'])}, "
        + (f"winner `{recorded['winner']}`" if recorded["winner"] else "no winner (no trial completed)")
        + ". Compute is worker time from each trial's start to its end; a full-run equivalent is one "
        "recorded full training run.",
        "",
        f"Replay check (recorded settings and concurrency): {check['decisions_matched']} of "
        f"{check['decisions_total']} stop/continue decisions as the real run made them; trial phase "
        f"{_duration(check['wall_s'])} simulated against {_duration(check['recorded_wall_s'])} recorded "
        f"({100 * check['wall_error']:+.1f}%).",
        *(f"- {difference}" for difference in check["differences"]),
        "",
        "A trial the real run stopped early has no curve after its last report: where a setting lets it go on, "
        "it ends there (*curve ends*) and cannot win, so such settings understate compute and may miss a winner.",
    ]
    objective = record.get("objective")
    if objective and objective["changed"]:
        picked = (
            f"`{objective['winner']}` ({objective['winner_score']:.4f})"
            if objective["winner"]
            else ("no trial: none is feasible" if objective["feasible"] == 0 else "no trial: none completed")
        )
        counted = (
            "" if objective["feasible"] is None else f" ({objective['feasible']} of the completed trials feasible)"
        )
        lines += [
            "",
            f"Objective replayed: {objective['replayed']['description']} (recorded: "
            f"{objective['recorded']['description']}). Among the recorded trials, with the recorded decisions, "
            f"it picks {picked}{counted}; the recorded winner is "
            + (f"`{recorded['winner']}`." if recorded["winner"] else "none."),
        ]
    if record["bootstrap"]:
        b = record["bootstrap"]
        lines += ["", f"**{b['trials']} trials of {b['note']}** (seed {b['seed']})."]
    lines += [
        "",
        f"Simulator speed: {speed['decisions']} scheduler decisions in {speed['seconds']:.3f} s "
        f"({speed['decisions_per_s'] or 0:,.0f} per second).",
        "",
        f"![Simulated wall time and compute]({SIMULATE_PLOT})",
        "",
    ]
    return "\n".join(lines)


def _plot(record: dict[str, Any]) -> bytes:
    settings = record["settings"]
    workers = [s["workers"] for s in settings]
    figure, (wall, compute) = plt.subplots(1, 2, figsize=(10, 4))
    hours = max(s["wall_s"] for s in settings) >= 7200
    wall.plot(workers, [s["wall_s"] / (3600 if hours else 60) for s in settings], "o-")
    wall.set(title="Simulated wall time", xlabel="workers", ylabel="hours" if hours else "minutes")
    compute.plot(workers, [s["full_run_equivalents"] for s in settings], "o-", color="tab:orange")
    compute.set(title="Compute", xlabel="workers", ylabel="full-run equivalents")
    for axes in (wall, compute):
        axes.grid(alpha=0.3)
        axes.set_xticks(workers)
        axes.set_ylim(bottom=0)
    for s, x in zip(settings, workers, strict=True):
        if s["same_winner"] is False:
            wall.annotate("other winner", (x, s["wall_s"] / (3600 if hours else 60)), fontsize=8)
    if record["bootstrap"]:
        figure.suptitle(f"{record['bootstrap']['trials']} trials of resampled curves (not new searches)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
