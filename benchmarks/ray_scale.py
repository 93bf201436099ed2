"""8. Ray at scale: the sweep's own Tuner with hundreds of trials, to see what the driver pays per trial.

The Tuner is built by ``sweep.tuning.tuner.tuner_spec`` exactly as ``sweep run`` builds it (SweepSearch with
Optuna TPE and its journal-file study in the folder, ASHA, the JSON and CSV logger callbacks, the same
RunConfig), for the recorded smoke sweep's config (``tests/data/simulate_smoke``); only the trainable is
swapped for ``benchmarks.replay_trainable``, which replays that sweep's recorded curves (no model),
sleeping a tenth of each recorded evaluation's seconds, so that a trial lasts about a second as in Ray's
own benchmark. Each trial asks for 0.1 CPU, so that 16 fit at once on 2 CPUs.

Figures, all per trial of the run:
- *slot overhead*: (fit wall × concurrency − the trials' sleep) / trials, the seconds of a trial slot
  spent on anything but the trial's own work (scheduling, the searcher, results, starting and stopping
  trials, and the 2 cores being shared by all of it);
- *driver CPU*: CPU seconds of this process during ``fit()`` (Tune's controller, the searcher, the
  loggers), and those of Ray's GCS, raylet and workers;
- *searcher*: seconds inside SweepSearch's hooks (suggest, on_trial_result, on_trial_complete, save);
- the result readers (``save_results``, reading Ray's files, reading the saved frames), the folder's
  bytes, and the driver's resident memory.

Ray Tune publishes 10,000 one-second trials (one result each) on 16 CPUs in 715 s, 625 s minimum
(docs.ray.io, "Scalability and Overhead Benchmarks for Ray Tune"): 0.0715 s of wall per trial, or a
slot overhead of (715 × 16 − 10,000) / 10,000 = 0.144 s; different hardware, 8× the cores, no searcher.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from benchmarks import searcher_alone
from benchmarks.driver_meters import ProcessMeter, SearcherClock, folder_bytes
from benchmarks.recipe import RUNS_DIR
from benchmarks.record import Outcome
from benchmarks.recorded_curves import RECORDING, load_curves
from benchmarks.replay_trainable import SLEPT

if TYPE_CHECKING:
    from trainables.data import TrialData
from benchmarks.session import Session

COMPRESS = 10.0  # recorded seconds per slept second: a replayed trial lasts about 1 s, as in Ray's benchmark
CPU_PER_TRIAL = 0.1  # 16 trials at once fit on 2 CPUs
QUICK, FULL = (100, 8), (500, 16)  # (trials, concurrency)
RAY_TRIALS, RAY_WALL_S, RAY_MIN_S, RAY_CPUS = 10_000, 715.27, 625.0, 16


@dataclass
class ScaleRun:
    """One measured ``fit()`` of the replay sweep and what it left."""

    trials: pd.DataFrame
    reports: pd.DataFrame
    concurrency: int
    fit_wall_s: float
    slept_s: float
    meter: ProcessMeter
    searcher: SearcherClock
    readers_s: dict[str, float]
    folder_bytes: dict[str, int]
    folder: Path
    trial_pids: int  # worker processes that ran a trial (Tune reuses actors)


def measure(
    n_trials: int,
    concurrency: int,
    compress: float = COMPRESS,
    recording: Path = RECORDING,
    runs_dir: Path = RUNS_DIR,
    reuse_actors: bool | None = None,
) -> ScaleRun:
    """Run the sweep's Tuner with the replay trainable for ``n_trials`` trials, ``concurrency`` at once;
    ``reuse_actors`` overrides the sweep's choice, for a comparison (None: as the sweep builds it)."""
    from ray import tune

    from benchmarks.replay_trainable import replay_trainable
    from benchmarks.sweeps import start_private_ray
    from sweep.config.experiment import load_config
    from sweep.runtime.cluster import check_resources
    from sweep.store.folder import ExperimentFolder
    from sweep.store.records import ExperimentMeta
    from sweep.tuning.study import study_storage
    from sweep.tuning.tuner import SweepPlan, tuner_spec

    start_private_ray()
    runs_dir.mkdir(parents=True, exist_ok=True)
    experiment = ExperimentFolder.create(str(runs_dir), f"ray-scale-{n_trials}x{concurrency}")
    config = load_config(
        recording / "config.yaml",
        [
            f"search.num_samples={n_trials}",
            f"search.max_concurrent={concurrency}",
            f"resources.cpu={CPU_PER_TRIAL}",
            f"search.study_name={experiment.files.name}",  # as `sweep run` names it
        ],
    )
    check_resources(config.resources.cpu, config.resources.gpu, config.search.max_concurrent)
    recorded = ExperimentFolder(recording).meta()
    if recorded.max_evaluations is None:
        raise RuntimeError(f"{recording}: experiment.json has no max_evaluations to replay the sweep with")
    plan = SweepPlan(recorded.n_layers, recorded.max_evaluations)
    experiment.write_config(config)
    # The recording's command: the replayed trials are its (experiment.json needs one to be read back).
    experiment.write_meta(
        ExperimentMeta(
            command=recorded.command, n_layers=plan.n_layers, max_evaluations=plan.max_evaluations, superseded=[]
        )
    )
    storage = study_storage(config.search.storage, experiment.study_journal(), experiment.location)
    # No training data: the trainable is replaced by the replay below.
    spec = tuner_spec(config, cast("TrialData", None), plan, experiment.files, study_storage=storage)
    replay = tune.with_parameters(replay_trainable, curves=load_curves(recording), compress=compress)
    if reuse_actors is not None:
        spec = dataclasses.replace(spec, tune_config=dataclasses.replace(spec.tune_config, reuse_actors=reuse_actors))
    tuner = dataclasses.replace(spec, trainable=replay).tuner()
    print(f"[ray-scale] {n_trials} trials, {concurrency} at once  (experiment: {experiment})", flush=True)
    with SearcherClock() as searcher, ProcessMeter() as meter:
        started = time.perf_counter()
        grid = tuner.fit()
        fit_wall_s = time.perf_counter() - started
    results = [grid[i] for i in range(len(grid))]
    slept_s = sum(float((result.metrics or {}).get(SLEPT, 0.0)) for result in results)
    trial_pids = len({(result.metrics or {}).get("pid") for result in results})
    trials, reports, readers_s = _read_results(experiment)
    return ScaleRun(
        trials=trials,
        reports=reports,
        concurrency=concurrency,
        fit_wall_s=fit_wall_s,
        slept_s=slept_s,
        meter=meter,
        searcher=searcher,
        readers_s=readers_s,
        folder_bytes=folder_bytes(Path(experiment.location)),
        folder=Path(experiment.location),
        trial_pids=trial_pids,
    )


def _read_results(experiment) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Save the frames as the sweep does after ``fit()``, then read them both ways; (trials, reports, the
    seconds each step took)."""
    readers_s = {}
    started = time.perf_counter()
    trials, reports = experiment.save_results([])
    readers_s["save_results"] = time.perf_counter() - started
    started = time.perf_counter()
    experiment.live_results()
    readers_s["read Ray's files (load_trials on a live sweep)"] = time.perf_counter() - started
    started = time.perf_counter()
    experiment.saved_results()
    readers_s["read the saved frames (load_trials)"] = time.perf_counter() - started
    return trials, reports, readers_s


def achieved_concurrency(reports: pd.DataFrame) -> tuple[int, float]:
    """(most trials running at once, mean over the trial phase) from each trial's start and last report."""
    spans = reports.groupby("trial_id").agg(start=("run_started_at", "min"), end=("reported_at", "max"))
    events = sorted([(t, 1) for t in spans["start"]] + [(t, -1) for t in spans["end"]])
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    phase = spans["end"].max() - spans["start"].min()
    return most, float((spans["end"] - spans["start"]).sum() / phase) if phase > 0 else 0.0


def table(run: ScaleRun) -> pd.DataFrame:
    """The figures, one row each: total and per trial."""
    n = len(run.trials)
    counts = run.trials["status"].value_counts()
    most, mean = achieved_concurrency(run.reports)
    slot = (run.fit_wall_s * run.concurrency - run.slept_s) / n
    roles = run.meter.cpu_by_role
    rows = [
        (
            "trials (completed / pruned / errored)",
            f"{n} ({counts.get('completed', 0)} / {counts.get('pruned', 0)} / {counts.get('errored', 0)})",
            "",
            "",
        ),
        ("concurrency: limit / most at once / mean", f"{run.concurrency} / {most} / {mean:.1f}", "", ""),
        (
            "worker processes: new during fit() / ran trials",
            f"{run.meter.new_by_role.get('workers', 0)} / {run.trial_pids}",
            "",
            "",
        ),
        ("fit() wall", f"{run.fit_wall_s:.1f} s", f"{run.fit_wall_s / n:.4f} s", "Ray: 0.0715 s"),
        ("trials' own sleep (replayed work)", f"{run.slept_s:.1f} s", f"{run.slept_s / n:.3f} s", "Ray: 1 s"),
        ("slot overhead (wall × concurrency − sleep)", f"{slot * n:.1f} s", f"{slot:.3f} s", "Ray: 0.144 s"),
        ("driver CPU during fit()", f"{run.meter.driver_cpu_s:.1f} s", f"{run.meter.driver_cpu_s / n:.4f} s", ""),
        *[
            (f"{role} CPU during fit()", f"{roles.get(role, 0.0):.1f} s", f"{roles.get(role, 0.0) / n:.4f} s", "")
            for role in ("gcs", "raylet", "workers", "other ray")
        ],
        *[
            (f"searcher {hook} ({len(calls)} calls)", f"{sum(calls):.2f} s", f"{sum(calls) / n:.4f} s", _growth(calls))
            for hook, calls in run.searcher.calls.items()
        ],
        ("searcher, all hooks", f"{run.searcher.total_s():.2f} s", f"{run.searcher.total_s() / n:.4f} s", ""),
        *[
            (reader, f"{seconds:.2f} s", f"{seconds / n * 1000:.2f} ms", "")
            for reader, seconds in run.readers_s.items()
        ],
        *[
            (f"folder: {part}", f"{size / 2**20:.1f} MiB", f"{size / n / 1024:.1f} KiB", "")
            for part, size in sorted(run.folder_bytes.items())
        ],
        (
            "folder, all",
            f"{sum(run.folder_bytes.values()) / 2**20:.1f} MiB",
            f"{sum(run.folder_bytes.values()) / n / 1024:.1f} KiB",
            "",
        ),
        ("driver RSS: at start / peak", f"{run.meter.rss_start_mib:.0f} / {run.meter.rss_peak_mib:.0f} MiB", "", ""),
    ]
    return pd.DataFrame(rows, columns=["figure", "total", "per trial", "compare"])


def _growth(calls: list[float]) -> str:
    """Mean milliseconds per call in the first and the last tenth of the calls: whether a hook slows as the
    study grows."""
    if len(calls) < 20:
        return ""
    tenth = len(calls) // 10
    return f"first/last tenth {np.mean(calls[:tenth]) * 1000:.1f} / {np.mean(calls[-tenth:]) * 1000:.1f} ms per call"


def run(session: Session) -> Outcome:
    n_trials, concurrency = QUICK if session.quick else FULL
    result = measure(n_trials, concurrency)
    alone = searcher_alone.table(n_trials)
    n = len(result.trials)
    slot = (result.fit_wall_s * concurrency - result.slept_s) / n
    folder_kib = sum(result.folder_bytes.values()) / n / 1024
    return Outcome(
        name="8. ray at scale",
        table=table(result),
        measured=(
            f"{n} trials, {concurrency} at once: fit {result.fit_wall_s:.0f} s ({result.fit_wall_s / n:.3f} s/trial, "
            f"Ray's 0.0715 on 16 CPUs); slot overhead {slot:.2f} s/trial (Ray's 0.144); driver CPU "
            f"{result.meter.driver_cpu_s / n:.3f} s/trial, searcher {result.searcher.total_s() / n:.3f} s/trial; "
            f"folder {folder_kib:.0f} KiB/trial; driver peak RSS {result.meter.rss_peak_mib:.0f} MiB"
        ),
        target="reported, compared with Ray's published figure",
        met=None,
        notes=[
            f"each trial replays a recorded smoke curve (chosen by CRC-32 of its trial id) at 1/{COMPRESS:g} of its "
            f"recorded time, {CPU_PER_TRIAL} CPU per trial; Ray's figure: {RAY_TRIALS} one-second trials on "
            f"{RAY_CPUS} CPUs in {RAY_WALL_S} s ({RAY_MIN_S:g} s minimum), other hardware, no searcher",
            f"experiment folder: {result.folder}",
            *[
                f"searcher alone (no Ray, one trial at a time), study {row.study}: {row.hook} "
                f"{row.s_per_trial * 1000:.2f} ms per trial, {row.ms_per_call_first_tenth:.2f} ms per call in the "
                f"first tenth, {row.ms_per_call_last_tenth:.2f} in the last"
                for row in alone.itertuples()
            ],
        ],
    )
