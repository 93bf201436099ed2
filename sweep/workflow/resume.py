"""Resuming a sweep whose driver died: keep the finished trials, rerun the interrupted ones.

Everything comes from the folder's JSON (Ray's experiment state and result rows), never its pickles.
A stored Optuna study (``search.storage``, by default the folder's journal) goes on: the trials the crash
left running in it are told how they ended, or that they failed when they were interrupted. Without
one, finished trials are replayed into a fresh study. Either way TPE's knowledge survives the crash, and
the configs the crash interrupted run again first, from step 1 (the sweep keeps no checkpoints). ASHA's
rungs survive it too: the finished trials' reports are told to the new scheduler (``sweep.tuning.rungs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from sweep.config.experiment import ExperimentConfig
from sweep.config.objective import search_metric
from sweep.config.search_space import first_point
from sweep.store.files import Folder
from sweep.store.frames import last_attempt
from sweep.store.ranking import is_reference
from sweep.store.tune_state import TrialRecord, read_history, read_records
from sweep.tuning.rungs import Reported
from sweep.tuning.searcher import Told, Warmstart, shortfall, told
from sweep.tuning.study import RAY_TRIAL_ID


@dataclass(frozen=True)
class ResumePlan:
    kept: int  # finished trials, not run again
    left: int  # trials still to run, the reruns included
    superseded: list[str]  # interrupted trials, rerun under new ids
    warmstart: Warmstart | None  # None: start afresh (no trial was recorded before the crash)
    outcomes: dict[str, Told] = field(default_factory=dict)  # what Optuna is told of each kept trial, by Ray id
    earlier: list[Reported] = field(default_factory=list)  # the kept trials' reports, for ASHA's rungs


def plan_resume(folder: Folder, config: ExperimentConfig, superseded: list[str], stored: bool = False) -> ResumePlan:
    """What is left of the sweep in ``folder``; ``superseded`` are trials earlier resumes replaced.
    ``stored``: the sweep's Optuna study was kept and goes on, so no finished trial is replayed into it."""
    searched = [key for key, param in config.space.items() if param.searched]
    records = [record for record in read_records(folder) if record.trial_id not in set(superseded)]
    finished = [record for record in records if record.finished]
    interrupted = [record for record in records if not record.finished]
    left = config.search.num_samples - len(finished)
    histories = {record.trial_id: last_attempt(read_history(folder, record)) for record in finished}
    outcomes = {record.trial_id: _outcome(record, histories[record.trial_id], config) for record in finished}
    warmstart = None
    if left > 0 and records:
        evaluated = [] if stored else [_evaluated_point(r, histories[r.trial_id], searched, config) for r in finished]
        reference = _reference_reports(finished, histories, config)
        warmstart = Warmstart(
            evaluated=evaluated,
            rerun=[{key: record.config[key] for key in searched} for record in interrupted][:left],
            num_samples=left,
            reference_reports=reference,
            constraints=[] if stored else [_shortfall(histories[r.trial_id], reference, config) for r in finished],
        )
    rerun = [*superseded, *(r.trial_id for r in interrupted)]
    earlier = [
        Reported(r.trial_id, histories[r.trial_id].to_dict("records"), errored=r.status == "ERROR") for r in finished
    ]
    return ResumePlan(len(finished), max(left, 0), rerun, warmstart, outcomes, earlier)


def settle_interrupted(study: optuna.Study, outcomes: dict[str, Told]) -> list[int]:
    """Tell every trial a crash left running in the stored ``study`` how it ended, so that none counts as
    running: its outcome (``outcomes``, by Ray trial id) when Ray recorded it finished, else that it
    failed (it was interrupted; its config runs again as a new trial). Returns the numbers told FAIL."""
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        outcome = outcomes.get(str(trial.user_attrs.get(RAY_TRIAL_ID)), Told("failed"))
        if outcome.state == "complete" and outcome.values:
            values = outcome.values
            study.tell(trial.number, values if len(values) > 1 else values[0])
        elif outcome.state == "pruned":
            study.tell(trial.number, state=TrialState.PRUNED)  # Optuna takes its last intermediate value
        else:
            study.tell(trial.number, state=TrialState.FAIL)
            failed.append(trial.number)
    return failed


def _reference_reports(
    finished: list[TrialRecord], histories: dict[str, pd.DataFrame], config: ExperimentConfig
) -> list[dict[str, Any]]:
    """The reports of the finished trial run at the reference defaults (what objective.full_depth_margin is
    measured from), or none."""
    reference = first_point(config.space, config.reference)
    for record in finished:
        if is_reference(record.config, reference):
            return histories[record.trial_id].to_dict("records")
    return []


def _shortfall(history: pd.DataFrame, reference: list[dict[str, Any]], config: ExperimentConfig) -> float | None:
    """A replayed trial's constraint value, as the sweep set it when the trial ended; None without a margin."""
    margin = config.objective.full_depth_margin
    if margin is None:
        return None
    return shortfall(history.to_dict("records"), reference, margin, config.objective.selection)


def _outcome(record: TrialRecord, history: pd.DataFrame, config: ExperimentConfig) -> Told:
    """What the sweep told (or would have told) Optuna of a finished trial."""
    metric, _ = search_metric(config.objective)
    metrics = metric if isinstance(metric, list) else [metric]
    outcome = told(history.to_dict("records"), metrics, config.objective.selection)
    return Told("failed") if record.status == "ERROR" else outcome


def _evaluated_point(
    record: TrialRecord, history: pd.DataFrame, searched: list[str], config: ExperimentConfig
) -> dict[str, Any]:
    """``OptunaSearch.add_evaluated_point`` arguments telling Optuna what the sweep told it before."""
    metric, _ = search_metric(config.objective)
    single = not isinstance(metric, list)
    outcome = _outcome(record, history, config)
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
