"""The sweeps benchmarks measure, and where their time went, read from the report rows' timing columns.

A cold sweep is ``python -m sweep run`` in its own process, exactly as a user starts it (Ray start,
data loading and the retrain included); the sweep phase alone runs the same Tuner in this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.recipe import RECIPE, ROOT, RUNS_DIR
from sweep.config.experiment import ExperimentConfig
from sweep.store.folder import ExperimentFolder
from trainables.internals import RAY_LOCAL_ONLY_ENV, RAY_TMPDIR_ENV


def use_private_ray() -> None:
    """Call before Ray is imported: every Ray the benchmarks start is private to them and to this machine.

    ``ray.init`` attaches to a cluster it finds recorded in its temporary folder, so the benchmarks use
    a folder of their own; and with its local-only switch (``trainables.internals``) Ray takes the loopback
    address as the node's, so no Ray port opens on the network.
    """
    os.environ.setdefault(RAY_TMPDIR_ENV, "/tmp/ray-benchmarks")
    os.environ.setdefault(RAY_LOCAL_ONLY_ENV, "0")


def start_private_ray() -> None:
    """Start this process's Ray (see ``use_private_ray``); ``start_ray`` retries a start that timed out."""
    from sweep.runtime.cluster import start_ray

    start_ray()


@dataclass
class SweepRun:
    """A finished sweep: its trials and report rows, and when it was launched (``time.time()``)."""

    launched_at: float
    trials: pd.DataFrame
    reports: pd.DataFrame
    slots: int  # trials that can run at once
    folder: Path
    report: dict[str, Any] | None = None  # report.json, for a full `sweep run`

    def finished_report(self) -> dict[str, Any]:
        """report.json, which a benchmark of the whole run needs: RuntimeError where the run wrote none."""
        if self.report is None:
            raise RuntimeError(f"{self.folder} has no report.json: the run did not finish")
        return self.report

    def per_trial(self) -> pd.DataFrame:
        """One row per trial: its start, first step, last report, and seconds in steps and evaluations."""
        grouped = self.reports.groupby("trial_id")
        frame = pd.DataFrame(
            {
                "started_at": grouped["run_started_at"].min(),
                "first_step_at": grouped["first_step_at"].min(),
                "ended_at": grouped["reported_at"].max(),
                "step_s": grouped["step_time_s"].max(),
                "eval_s": grouped["eval_time_s"].max(),
                "steps": grouped["step"].max(),
            }
        ).reset_index()
        frame = frame.merge(self.trials[["trial_id", "trial_index", "status"]], on="trial_id")
        frame["wall_s"] = frame["ended_at"] - frame["started_at"]
        frame["to_first_step_s"] = frame["first_step_at"] - frame["started_at"]
        return frame.sort_values("started_at").reset_index(drop=True)

    @property
    def total_steps(self) -> int:
        return int(self.trials["steps"].sum())

    @property
    def best_sts_dev(self) -> float:
        return float(self.trials["sts_dev_best"].max())

    def sweep_wall_s(self) -> float:
        """From the first trial's start to the last trial's last report: the sweep phase, without start-up."""
        return float(self.reports["reported_at"].max() - self.reports["run_started_at"].min())


def slots_for(config: ExperimentConfig) -> int:
    """How many trials run at once on this machine: the concurrency limit, or the CPUs if fewer."""
    cpus = len(os.sched_getaffinity(0))
    return max(1, min(config.search.max_concurrent, int(cpus // config.resources.cpu)))


def cold_sweep(config: ExperimentConfig, overrides: list[str], label: str) -> SweepRun:
    """``python -m sweep run`` on the benchmark recipe with ``overrides``, in a fresh process; waits for it."""
    folder = RUNS_DIR / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True)
    command = [sys.executable, "-m", "sweep", "run", str(RECIPE.relative_to(ROOT))]
    for override in overrides:
        command += ["--set", override]
    command += ["--results-dir", str(folder)]
    log = folder / "sweep.log"
    print(f"[{label}] {' '.join(command[1:])}  (log: {log})", flush=True)
    launched_at = time.time()  # `sweep run` starts Ray again itself if its first start times out
    with log.open("w") as handle:
        code = subprocess.run(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        tail = log.read_text().strip().splitlines()[-5:]
        raise RuntimeError(f"`sweep run` exited with {code}; see {log}:\n" + "\n".join(tail))
    (experiment,) = [path for path in folder.iterdir() if path.is_dir()]
    saved = ExperimentFolder(experiment)
    trials, reports = saved.saved_results()
    return SweepRun(launched_at, trials, reports, slots_for(config), experiment, report=saved.report())


def finished_sweep(folder: Path) -> SweepRun:
    """A finished `sweep run` read from its folder (any recipe: its config.yaml says which), as ``cold_sweep``
    returns one; launched when its experiment.json was created."""
    saved = ExperimentFolder(folder)
    report = saved.report()
    if report is None:
        raise RuntimeError(f"{folder} has no report.json: finish it first (`sweep resume {folder}`)")
    trials, reports = saved.saved_results()
    created = datetime.strptime(str(saved.meta().created), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    return SweepRun(created, trials, reports, slots_for(saved.config()), Path(folder), report=report)


def sweep_phase(config: ExperimentConfig, label: str) -> SweepRun:
    """Only the sweep (no retrain, no report files), in this process, on the Ray it already runs."""
    from sweep.tuning.tuner import tuner_spec
    from sweep.workflow.commands import prepare

    launched_at = time.time()
    prepared = prepare(config)
    start_private_ray()
    folder = RUNS_DIR / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True)
    print(f"[{label}] sweep phase in this process  (experiment: {folder})", flush=True)
    experiment = ExperimentFolder(folder / prepared.config.name)
    tuner_spec(prepared.config, prepared.data, prepared.plan, experiment.files).tuner().fit()
    trials, reports = experiment.live_results()
    return SweepRun(launched_at, trials, reports, slots_for(config), folder)
