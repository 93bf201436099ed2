"""Reads the Ray Tune experiment folder as it is on disk: while the sweep runs, after it crashed, or done.

Only JSON and text files are read (``experiment_state-*.json``, each trial's ``params.json``,
``result.json`` and ``error.txt``); the pickles beside them are never opened, because unpickling a
results folder would run whatever code it holds. Paths go through ``pyarrow.fs``, so a folder on a
URI such as ``s3://bucket/experiment`` reads the same way as a local one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyarrow import fs

TRIAL_PREFIX = "trial_"
STATE_GLOB = "experiment_state-"


@dataclass
class TrialRecord:
    """One trial as its folder shows it."""

    trial_id: str
    state: str | None  # Tune's status in the latest experiment state (TERMINATED, RUNNING, ERROR...), if any
    params: dict[str, Any]
    reports: list[dict[str, Any]] = field(default_factory=list)  # one per tune.report, in order
    error: str | None = None  # the last line of error.txt


def read_trials(path: Path | str) -> list[TrialRecord]:
    """Every trial that has started, in the order Tune created them (the reference defaults first)."""
    filesystem, root = _filesystem(path)
    listing = filesystem.get_file_info(fs.FileSelector(root, allow_not_found=True))
    folders = {Path(info.path).name: info for info in listing if info.type == fs.FileType.Directory}
    trial_folders = {name: info for name, info in folders.items() if name.startswith(TRIAL_PREFIX)}
    states = _latest_states(filesystem, [info for info in listing if info.type == fs.FileType.File])
    # Tune numbers trials as it creates them (experiment_tag "3_..."); its saved list is in another order.
    known = sorted((folder for folder in states if folder in trial_folders), key=lambda folder: states[folder][1])
    # Trials newer than the last saved state come after it, oldest folder first.
    newer = sorted(set(trial_folders) - set(known), key=lambda name: (trial_folders[name].mtime_ns or 0, name))
    records = []
    for name in known + newer:
        record = _read_trial(filesystem, trial_folders[name].path, name, states.get(name, (None, 0))[0])
        if record is not None:
            records.append(record)
    return records


def _filesystem(path: Path | str) -> tuple[fs.FileSystem, str]:
    text = str(path)
    if "://" not in text:
        text = str(Path(text).resolve())
    return fs.FileSystem.from_uri(text)


def _read_text(filesystem: fs.FileSystem, path: str) -> str | None:
    try:
        with filesystem.open_input_stream(path) as stream:
            return stream.read().decode("utf-8", errors="replace")
    except (FileNotFoundError, OSError):
        return None


def _latest_states(filesystem: fs.FileSystem, files: list[fs.FileInfo]) -> dict[str, tuple[str | None, int]]:
    """Trial folder name -> (Tune status, creation number), from the newest experiment state."""
    candidates = sorted(
        (info for info in files if Path(info.path).name.startswith(STATE_GLOB) and info.path.endswith(".json")),
        key=lambda info: info.mtime_ns or 0,
    )
    for info in reversed(candidates):
        text = _read_text(filesystem, info.path)
        try:
            entries = json.loads(text or "")["trial_data"]
        except (ValueError, KeyError, TypeError):
            continue  # a state being rewritten as we read: try the one before
        states: dict[str, tuple[str | None, int]] = {}
        for position, entry in enumerate(entries):
            # Each entry is [trial state, runtime metadata], both JSON text; we read plain fields only.
            trial = json.loads(entry[0])
            folder = trial.get("relative_logdir") or f"{TRIAL_PREFIX}{trial['trial_id']}"
            number = str(trial.get("experiment_tag", "")).split("_", 1)[0]
            states[folder] = (trial.get("status"), int(number) if number.isdigit() else position)
        return states
    return {}


def _read_trial(filesystem: fs.FileSystem, folder: str, name: str, state: str | None) -> TrialRecord | None:
    params_text = _read_text(filesystem, f"{folder}/params.json")
    if params_text is None:
        return None  # the folder exists but the trial has not written its parameters yet
    try:
        params = json.loads(params_text)
    except ValueError:
        return None
    reports = []
    for line in (_read_text(filesystem, f"{folder}/result.json") or "").splitlines():
        try:
            reports.append(json.loads(line))
        except ValueError:
            break  # a line cut short by a crash or by a write in progress: the rows before it stand
    error_text = _read_text(filesystem, f"{folder}/error.txt")
    error = None
    if error_text is not None:
        lines = [line for line in error_text.strip().splitlines() if line.strip()]
        error = (lines[-1] if lines else "error").strip()[:500]
    trial_id = reports[0]["trial_id"] if reports and "trial_id" in reports[0] else name.removeprefix(TRIAL_PREFIX)
    return TrialRecord(trial_id, state, params, reports, error)
