"""Resuming a sweep whose driver died: keep the finished trials, rerun the interrupted ones.

Everything comes from the folder's JSON (Ray's experiment state and result rows), never its pickles:
finished trials are replayed into a fresh Optuna study, so TPE's knowledge survives the crash, and
the configs the crash interrupted run again first, from step 1 (the sweep keeps no checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from sweep.config import ExperimentConfig
from sweep.objective import search_metric
from sweep.results import last_attempt
from sweep.storage import Folder
from sweep.tune_state import TrialRecord, read_history, read_records
from sweep.tuner import Warmstart
from trainables.metrics import FAILURE


@dataclass(frozen=True)
class ResumePlan:
    kept: int  # finished trials, not run again
    left: int  # trials still to run, the reruns included
    superseded: list[str]  # interrupted trials, rerun under new ids
    warmstart: Warmstart | None  # None: start afresh (no trial was recorded before the crash)


def plan_resume(folder: Folder, config: ExperimentConfig, superseded: list[str]) -> ResumePlan:
    """What is left of the sweep in ``folder``; ``superseded`` are trials earlier resumes replaced."""
    searched = [key for key, param in config.space.items() if param.searched]
    records = [record for record in read_records(folder) if record.trial_id not in set(superseded)]
    finished = [record for record in records if record.finished]
    interrupted = [record for record in records if not record.finished]
    left = config.search.num_samples - len(finished)
    warmstart = None
    if left > 0 and records:
        warmstart = Warmstart(
            evaluated=[_evaluated_point(folder, record, searched, config) for record in finished],
            rerun=[{key: record.config[key] for key in searched} for record in interrupted][:left],
            num_samples=left,
        )
    return ResumePlan(len(finished), max(left, 0), [*superseded, *(r.trial_id for r in interrupted)], warmstart)


def _evaluated_point(
    folder: Folder, record: TrialRecord, searched: list[str], config: ExperimentConfig
) -> dict[str, Any]:
    """``OptunaSearch.add_evaluated_point`` arguments telling Optuna what the sweep told it before."""
    history = last_attempt(read_history(folder, record))
    metric, _ = search_metric(config.objective)
    metrics = metric if isinstance(metric, list) else [metric]
    scored = history.dropna(subset=metrics) if set(metrics) <= set(history) else pd.DataFrame()
    failed = record.status == "ERROR" or scored.empty or _failed(history)
    # As during the sweep: the last report's score(s), also for a trial ASHA stopped early.
    last = [float(scored[m].iloc[-1]) for m in metrics] if not failed else None
    return {
        "parameters": {key: record.config[key] for key in searched},
        "value": last if last is None or isinstance(metric, list) else last[0],
        "error": failed,
        "intermediate_values": None if failed or isinstance(metric, list) else scored[metric].tolist(),
    }


def _failed(history: pd.DataFrame) -> bool:
    return FAILURE in history and isinstance(history[FAILURE].iloc[-1], str)
