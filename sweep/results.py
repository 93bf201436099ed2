"""Trial results as pandas: one row per trial (``trials.parquet``), one row per report (``reports.parquet``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sweep.search_space import RULES
from trainables.metrics import OBJECTIVE

if TYPE_CHECKING:
    from ray.tune import ResultGrid

TRIALS_FILE = "trials.parquet"
REPORTS_FILE = "reports.parquet"
STATUSES = ("completed", "pruned", "errored")
PARAM_COLUMNS = tuple(RULES)


class NoResultsError(RuntimeError):
    """Every trial failed before its first evaluation: there is nothing to retrain."""


def trial_rows(grid: ResultGrid) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summarise a finished ResultGrid: (trials, reports), in the order trials were created.

    The grid lists trials in creation order, so ``trial_index`` 0 is the reference defaults.
    """
    trials, reports = [], []
    for index, result in enumerate(grid):
        history = result.metrics_dataframe
        history = history if history is not None and OBJECTIVE in history else pd.DataFrame()
        trial_id = (result.metrics or {}).get("trial_id") or Path(result.path).name.removeprefix("trial_")
        trials.append({"trial_index": index, **_trial_row(trial_id, result.config or {}, history, result.error)})
        if not history.empty:
            # Parameters live in trials.parquet; a report row keeps the measurements and Tune's timing.
            dropped = [c for c in history if c.startswith("config/") or c in ("trial_id", "checkpoint_dir_name")]
            frame = history.drop(columns=dropped)
            frame.insert(0, "trial_id", trial_id)
            reports.append(frame)
    trials_frame = pd.DataFrame(trials)
    reports_frame = pd.concat(reports, ignore_index=True) if reports else pd.DataFrame()
    return trials_frame, reports_frame


def _trial_row(trial_id: str, config: dict[str, Any], history: pd.DataFrame, error: Any) -> dict[str, Any]:
    last = history.iloc[-1] if not history.empty else None
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
        "evaluations": len(history),
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
