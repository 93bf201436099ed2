"""Resuming a sweep whose driver died: keep the finished trials, rerun the interrupted ones.

Everything comes from the folder's JSON (Ray's experiment state and result rows), never its pickles:
finished trials are replayed into a fresh Optuna study, so TPE's knowledge survives the crash, and
the configs the crash interrupted run again first, from step 1 (the sweep keeps no checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sweep.config import ExperimentConfig
from sweep.objective import search_metric
from sweep.results import last_attempt
from sweep.searcher import Warmstart, told
from sweep.storage import Folder
from sweep.tune_state import TrialRecord, read_history, read_records


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
    single = not isinstance(metric, list)
    outcome = told(history.to_dict("records"), [metric] if single else metric, config.objective.selection)
    failed = record.status == "ERROR" or outcome.state == "failed"
    # Optuna keeps intermediate values of one objective only, as during the sweep.
    scores = history[metric].dropna().tolist() if single and not failed and metric in history else []
    value: Any = None
    if not failed and outcome.state == "complete" and outcome.values:
        value = outcome.values[0] if single else outcome.values
    elif not failed and scores:
        value = scores[-1]  # as Optuna's tell records a pruned trial: its last intermediate value
    return {
        "parameters": {key: record.config[key] for key in searched},
        "value": value,
        "error": failed,
        "pruned": not failed and outcome.state == "pruned",
        "intermediate_values": scores or None,
    }
