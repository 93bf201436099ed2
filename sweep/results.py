"""Trial results as pandas: one row per trial (``trials.parquet``), one row per report (``reports.parquet``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from sweep.search_space import RULES
from sweep.storage import Folder
from sweep.tune_state import read_history, read_records
from trainables.metrics import FAILURE, OBJECTIVE

TRIALS_FILE = "trials.parquet"
REPORTS_FILE = "reports.parquet"
STATUSES = ("completed", "pruned", "errored")
PARAM_COLUMNS = tuple(RULES)


class NoResultsError(RuntimeError):
    """Every trial failed before its first evaluation: there is nothing to retrain."""


def trial_tables(folder: Folder, superseded: Iterable[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, reports) of the Ray experiment in ``folder``, in the order trials were created.

    ``trial_index`` 0 is the reference defaults. Trials a resume restarted (``superseded``) are left
    out: their restart counts instead. A trial Ray has not finished has status ``running``.
    """
    superseded = set(superseded)
    trials, reports = [], []
    for record in read_records(folder):
        if record.trial_id in superseded:
            continue
        history = read_history(folder, record)
        history = history if OBJECTIVE in history else pd.DataFrame()
        row = _trial_row(record.trial_id, record.config, history, record.error)
        if not record.finished:
            row["status"] = "running"
        row["attempts"] = record.num_failures + (1 if record.finished or not history.empty else 0)
        trials.append({"trial_index": len(trials), **row})
        if not history.empty:
            frame = last_attempt(history).copy()
            frame.insert(0, "trial_id", record.trial_id)
            reports.append(frame)
    trials_frame = pd.DataFrame(trials)
    reports_frame = pd.concat(reports, ignore_index=True) if reports else pd.DataFrame()
    return trials_frame, reports_frame


def last_attempt(history: pd.DataFrame) -> pd.DataFrame:
    """The rows of a trial's last attempt: a retried trial starts again from step 1, after its earlier rows."""
    if history.empty or "step" not in history:
        return history
    restarts = (history["step"].diff() <= 0).to_numpy().nonzero()[0]
    return history.iloc[restarts[-1] :] if len(restarts) else history


def _trial_row(trial_id: str, config: dict[str, Any], history: pd.DataFrame, error: Any) -> dict[str, Any]:
    history = last_attempt(history)
    last = history.iloc[-1] if not history.empty else None
    failure = last.get(FAILURE) if last is not None else None
    if isinstance(failure, str) and failure:
        # The trial stopped itself (a non-finite loss): it failed, but Tune saw it end normally.
        error = f"{failure} at step {int(last['step'])}"
    if error is not None:
        status = "errored"
    elif last is not None and bool(last.get("completed", False)):
        status = "completed"
    else:
        status = "pruned"
    return {
        "trial_id": trial_id,
        "status": status,
        **{key: config.get(key) for key in PARAM_COLUMNS},
        "sts_dev_best": float(history[OBJECTIVE].max()) if last is not None else float("nan"),
        "sts_dev_final": float(last[OBJECTIVE]) if last is not None else float("nan"),
        "steps": int(last["step"]) if last is not None else 0,
        "total_steps": int(last["total_steps"]) if last is not None else 0,
        "evaluations": int(history[OBJECTIVE].notna().sum()) if last is not None else 0,
        "time_s": float(last["time_total_s"]) if last is not None and "time_total_s" in last else float("nan"),
        "error": None if error is None else str(error).strip().splitlines()[-1][:500],
    }


def best_trial(trials: pd.DataFrame) -> pd.Series:
    """The trial with the best STS-dev at any report (pruned trials count: their reports are real)."""
    candidates = trials[(trials["status"] != "errored") & trials["sts_dev_best"].notna()]
    if candidates.empty:
        raise NoResultsError("no trial reported an STS-dev score; see the error column of trials.parquet")
    return candidates.loc[candidates["sts_dev_best"].idxmax()]


def params_of(row: pd.Series) -> dict[str, Any]:
    """The trial's parameters as plain Python values."""
    return {key: _plain(row[key]) for key in PARAM_COLUMNS}


def load_trials(path: Path | str) -> pd.DataFrame:
    """One row per trial of the experiment folder ``path``: parameters, status, best and final STS-dev."""
    return pd.read_parquet(Path(path) / TRIALS_FILE)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
