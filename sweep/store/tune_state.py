"""Reads a Ray Tune experiment folder as JSON: trial statuses, configs, failures and report rows.

Ray keeps a JSON copy of its state next to its pickles (``experiment_state-*.json``, each trial's
``result.json``); reading only those works on a finished, running or crashed sweep and never runs code
from a results folder. Values Ray could only pickle stay as the hex strings they are stored as.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sweep.store.files import Folder
from sweep.store.records import Params, RayRuntime, RayState, RayTrial, ResultRow, fit
from trainables.errors import InputError
from trainables.internals import TUNE_STATE_FILE

FINISHED = ("TERMINATED", "ERROR")  # Ray's statuses of a trial that will not run again
# Ray's bookkeeping in each result row; the parameters live in the trial's config instead.
_DROPPED = ("config", "checkpoint_dir_name", "done", "trial_id", "date", "pid", "hostname", "node_ip")
# What to do about a damaged file of Ray's: nothing rebuilds one, but the sweep can go on without it.
STATE_REMEDY = (
    "Ray Tune wrote it and nothing rebuilds it; move it out of the folder, and the trials are read from "
    "their own folders (`sweep resume` reruns those that had not finished)"
)
PARAMS_REMEDY = (
    "Ray Tune wrote it and nothing rebuilds it; move the trial's folder out of the experiment folder, and "
    "`sweep resume` runs a trial in its place"
)
ROW_REMEDY = "Ray Tune wrote it and nothing rebuilds it; delete that line, and the trial ends at the line before"


@dataclass(frozen=True)
class TrialRecord:
    """One trial as Ray last recorded it."""

    trial_id: str
    status: str  # Ray's: PENDING, RUNNING, PAUSED, TERMINATED, ERROR
    config: dict[str, Any]
    logdir: str  # the trial's folder, relative to the experiment folder
    num_failures: int  # attempts that raised; a retried trial starts again from step 1
    error: str | None  # the last attempt's error, when the trial ended in ERROR
    run: int  # which `fit` created it: 0 for the sweep, 1.. for each resume
    order: int  # creation order within its run

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def state_files(folder: Folder, names: list[str] | None = None) -> list[str]:
    """Ray's experiment state files, oldest first (their names end in a sortable timestamp)."""
    return [name for name in (folder.names() if names is None else names) if TUNE_STATE_FILE.match(name)]


def read_records(folder: Folder) -> list[TrialRecord]:
    """Every trial of every run in the folder, in creation order; the newest state of each wins."""
    names = folder.names()  # once: on an object store every listing is a request
    states = state_files(folder, names)
    records: dict[str, TrialRecord] = {}
    for run, name in enumerate(states):
        for position, (state, runtime) in enumerate(_trials_in(folder, name)):
            trial_id = state.trial_id
            first = records.get(trial_id)
            logdir = state.relative_logdir or f"trial_{trial_id}"
            error = _error_text(folder, logdir, runtime.error_filename) if state.status == "ERROR" else None
            records[trial_id] = TrialRecord(
                trial_id=trial_id,
                status=state.status,
                config=_plain_config(state.config or {}),
                logdir=logdir,
                num_failures=runtime.num_failures or 0,
                error=error,
                run=first.run if first else run,
                order=first.order if first else _tag_number(state.experiment_tag, position),
            )
    known = {record.logdir for record in records.values()}
    newer = [name for name in names if name.startswith("trial_") and name not in known]
    for position, logdir in enumerate(newer):
        # A trial started after Ray last saved its state (a live sweep, or one killed early).
        params = _params(folder, logdir)
        if params is not None:
            trial_id = logdir.removeprefix("trial_")
            records[trial_id] = TrialRecord(trial_id, "RUNNING", params, logdir, 0, None, len(states), position)
    for trial_id, record in records.items():
        if not record.finished and _reported_last_step(folder, record):
            # It finished after Ray last saved its state (a driver killed in between): nothing to rerun.
            records[trial_id] = dataclasses.replace(record, status="TERMINATED")
    return sorted(records.values(), key=lambda record: (record.run, record.order))


def _trials_in(folder: Folder, name: str) -> list[tuple[RayTrial, RayRuntime]]:
    """Each trial's state and runtime in one of Ray's experiment state files, read through their schemas."""
    where = f"{folder}/{name}"
    found = []
    try:
        data = folder.read_json(name)
    except InputError as error:  # not JSON: half-written while a sweep runs, or damaged
        raise InputError(f"{error}; {STATE_REMEDY}") from None
    for i, (state_json, runtime_json) in enumerate(fit(RayState, data, where, STATE_REMEDY).trial_data):
        try:
            state, runtime = json.loads(state_json), json.loads(runtime_json)
        except ValueError:
            raise InputError(f"{where}: damaged (trial_data.{i}: not JSON); {STATE_REMEDY}") from None
        at = f"trial_data.{i}"
        found.append((fit(RayTrial, state, where, STATE_REMEDY, at), fit(RayRuntime, runtime, where, STATE_REMEDY, at)))
    return found


def _params(folder: Folder, logdir: str) -> dict[str, Any] | None:
    """The trial's parameters from params.json; None while Ray has not written it yet."""
    name = f"{logdir}/params.json"
    try:
        params = json.loads(folder.read_text(name))
    except (OSError, ValueError):  # ValueError: half-written, or not text at all
        return None
    return _plain_config(fit(Params, params, f"{folder}/{name}", PARAMS_REMEDY).model_dump())


def _reported_last_step(folder: Folder, record: TrialRecord) -> bool:
    history = read_history(folder, record)
    return not history.empty and "completed" in history and bool(history["completed"].iloc[-1])


def read_history(folder: Folder, record: TrialRecord) -> pd.DataFrame:
    """The trial's report rows (every attempt's), one row per ``tune.report``."""
    name = f"{record.logdir}/result.json"
    if not folder.is_file(name):
        return pd.DataFrame()
    rows = []
    text = folder.read_bytes(name).decode("utf-8", errors="replace")  # a damaged byte spoils its line only
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash mid-write
            fit(ResultRow, row, f"{folder}/{name}", ROW_REMEDY, f"line {number}")
            rows.append({key: value for key, value in row.items() if key not in _DROPPED})
    return pd.DataFrame(rows)


def _plain_config(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if not isinstance(value, dict)}


def _tag_number(tag: str | None, fallback: int) -> int:
    match = re.match(r"^(\d+)_", tag or "")
    return int(match.group(1)) if match else fallback


def _error_text(folder: Folder, logdir: str, filename: str | None) -> str:
    """The trial's last error, from its own folder (the state's names are checked to lead nowhere else)."""
    name = f"{logdir}/{filename if filename and filename.endswith('.txt') else 'error.txt'}"
    if not folder.is_file(name):
        return "the trial raised; Ray kept no readable error text"
    return folder.read_bytes(name).decode("utf-8", errors="replace")
