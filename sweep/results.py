"""Trial results as pandas: one row per trial (``load_trials``), one row per report (``load_reports``).

Both read the Ray Tune experiment folder itself, so they work while a sweep runs, after it crashed and
after it finished; ``trials.parquet`` and ``reports.parquet`` are the same frames, saved when the sweep
ends. The columns are declared here once and listed in the README ("Analysing results").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from sweep.search_space import RULES
from sweep.storage import Folder
from sweep.tune_state import TrialRecord, read_history, read_records, state_files
from trainables.errors import InputError
from trainables.metrics import FAILURE, MEAN_DEPTH, OBJECTIVE, TIMING_COLUMNS, depth_metric

TRIALS_FILE = "trials.parquet"
REPORTS_FILE = "reports.parquet"
# unfinished: started, but neither done nor stopped yet: still running, or the sweep ended before it did.
STATUSES = ("completed", "pruned", "errored", "unfinished")
PARAM_COLUMNS = tuple(RULES)
# Per trial, after the parameters; sts_dev_best_depth_1..L follow sts_dev_best_mean_depth.
TRIAL_SCORE_COLUMNS = ("sts_dev_best", "sts_dev_final", "sts_dev_best_mean_depth")
TRIAL_TAIL_COLUMNS = ("steps", "total_steps", "evaluations", "time_s", "error", "attempts")
# Per report; the depth columns sts_dev_spearman_cosine_depth_1..L follow MEAN_DEPTH.
REPORT_HEAD_COLUMNS = (
    "trial_index",
    "trial_id",
    "training_iteration",
    "step",
    "total_steps",
    "epoch",
    "loss",
    "learning_rate",
    OBJECTIVE,
    MEAN_DEPTH,
)
REPORT_TAIL_COLUMNS = ("completed", FAILURE, *TIMING_COLUMNS, "time_total_s", "time_this_iter_s", "timestamp")
_DEPTH = re.compile(re.escape(depth_metric(0)).replace("0", r"(\d+)") + "$")


class NoResultsError(RuntimeError):
    """Every trial failed before its first evaluation: there is nothing to retrain."""


def best_column(metric: str) -> str:
    """The trials column holding a trial's best value of a reported STS-dev metric."""
    depth = _DEPTH.match(metric)
    if depth:
        return f"sts_dev_best_depth_{depth.group(1)}"
    return {OBJECTIVE: "sts_dev_best", MEAN_DEPTH: "sts_dev_best_mean_depth"}[metric]


def trial_columns(n_layers: int) -> list[str]:
    """Columns of ``load_trials`` for a model of ``n_layers`` layers, in order."""
    depths = [best_column(metric) for metric in _depth_metrics(n_layers)]
    return ["trial_index", "trial_id", "status", *PARAM_COLUMNS, *TRIAL_SCORE_COLUMNS, *depths, *TRIAL_TAIL_COLUMNS]


def report_columns(n_layers: int) -> list[str]:
    """Columns of ``load_reports`` for a model of ``n_layers`` layers, in order."""
    return [*REPORT_HEAD_COLUMNS, *_depth_metrics(n_layers), *REPORT_TAIL_COLUMNS]


def load_trials(path: Path | str) -> pd.DataFrame:
    """One row per started trial of the experiment folder ``path``, in creation order (0 = the reference defaults).

    Columns: ``trial_index``, ``trial_id``, ``status`` (completed / pruned / errored / unfinished), every
    parameter, ``sts_dev_best`` (best full-depth STS-dev at any report), ``sts_dev_final``,
    ``sts_dev_best_mean_depth``, ``sts_dev_best_depth_1..L``, ``steps``, ``total_steps``,
    ``evaluations``, ``time_s``, ``error``, ``attempts`` (1 + the restarts after the trial raised).
    """
    return read_results(path)[0]


def load_reports(path: Path | str) -> pd.DataFrame:
    """One row per STS-dev evaluation of every trial of ``path``: the trial, its step, STS-dev at every depth."""
    return read_results(path)[1]


def read_results(
    location: Folder | Path | str, superseded: Iterable[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, reports) of an experiment folder, read from the Ray Tune experiment inside it.

    Trials a resume restarted (``superseded``; by default those experiment.json lists) are left out:
    their restarts count instead. A folder without a Ray Tune experiment but with the saved Parquet
    files (a copy of the results only) reads those instead.
    """
    folder = location if isinstance(location, Folder) else Folder(location)
    meta = folder.read_json("experiment.json") if folder.is_file("experiment.json") else {}
    skip = set(meta.get("superseded", []) if superseded is None else superseded)
    records = [record for record in read_records(folder) if record.trial_id not in skip]
    if not records and folder.is_file(TRIALS_FILE) and not state_files(folder):
        return folder.read_parquet(TRIALS_FILE), folder.read_parquet(REPORTS_FILE)
    if not records and not meta and not state_files(folder):
        raise InputError(f"{folder}: no Ray Tune experiment or {TRIALS_FILE} here; give an experiment folder")
    histories = [last_attempt(read_history(folder, record)) for record in records]
    n_layers = int(meta["n_layers"]) if "n_layers" in meta else _n_layers(histories)
    reports = _reports_frame(records, histories, n_layers)
    trials = pd.DataFrame(
        [
            _trial_row(i, record, reports[reports["trial_index"] == i], history, n_layers)
            for i, (record, history) in enumerate(zip(records, histories, strict=True))
        ],
        columns=trial_columns(n_layers),
    )
    return trials.astype(_trial_dtypes(n_layers)), reports


def last_attempt(history: pd.DataFrame) -> pd.DataFrame:
    """The rows of a trial's last attempt: a retried trial starts again from step 1, after its earlier rows."""
    if history.empty or "step" not in history:
        return history
    restarts = (history["step"].diff() <= 0).to_numpy().nonzero()[0]
    return history.iloc[restarts[-1] :] if len(restarts) else history


def _n_layers(histories: list[pd.DataFrame]) -> int:
    """The model's depth from the reported columns, for a folder without experiment.json."""
    depths = [int(m.group(1)) for history in histories for key in history.columns if (m := _DEPTH.match(key))]
    return max(depths, default=0)


def _reports_frame(records: list[TrialRecord], histories: list[pd.DataFrame], n_layers: int) -> pd.DataFrame:
    columns = report_columns(n_layers)
    rows = []
    for index, (record, history) in enumerate(zip(records, histories, strict=True)):
        for report in history.to_dict("records"):
            if OBJECTIVE not in report:
                continue  # not an evaluation row (Tune may log bookkeeping-only results)
            row = {key: report.get(key) for key in columns}
            row["trial_index"], row["trial_id"] = index, record.trial_id
            if row[FAILURE] is not None and not isinstance(row[FAILURE], str):
                row[FAILURE] = None  # NaN where the frame had failures on other rows
            if row[MEAN_DEPTH] is None or pd.isna(row[MEAN_DEPTH]):
                depths = [report[depth_metric(d)] for d in range(1, n_layers + 1) if depth_metric(d) in report]
                row[MEAN_DEPTH] = sum(depths) / len(depths) if depths else None
            rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    dtypes = dict.fromkeys(columns, "float64")
    dtypes.update(trial_index="int64", trial_id="str", training_iteration="int64", step="int64", total_steps="int64")
    dtypes.update(completed="bool", timestamp="int64", **{FAILURE: "object"})
    return frame.fillna({"training_iteration": 0, "timestamp": 0, "epoch": float("nan")}).astype(dtypes)


def _trial_row(
    index: int, record: TrialRecord, reports: pd.DataFrame, history: pd.DataFrame, n_layers: int
) -> dict[str, Any]:
    scored = reports[reports[OBJECTIVE].notna()]
    last = history.iloc[-1] if not history.empty else None
    error = record.error
    failure = last.get(FAILURE) if last is not None else None
    if isinstance(failure, str) and failure:
        # The trial stopped itself (a non-finite loss): it failed, though Tune saw it end normally.
        error = f"{failure} at step {int(last['step'])}"
    if error is not None or record.status == "ERROR":
        status = "errored"
    elif last is not None and bool(last.get("completed", False)):
        status = "completed"
    elif record.status == "TERMINATED":
        status = "pruned"  # Tune ended it before its last step: the scheduler stopped it
    else:
        status = "unfinished"
    final = scored.iloc[-1] if not scored.empty else None
    return {
        "trial_index": index,
        "trial_id": record.trial_id,
        "status": status,
        **{key: record.config.get(key) for key in PARAM_COLUMNS},
        "sts_dev_final": float(final[OBJECTIVE]) if final is not None else float("nan"),
        **{
            best_column(m): _best(scored, m)
            for m in (OBJECTIVE, MEAN_DEPTH, *map(depth_metric, range(1, n_layers + 1)))
        },
        "steps": int(last["step"]) if last is not None else 0,
        "total_steps": int(last["total_steps"]) if last is not None else 0,
        "evaluations": len(scored),
        "time_s": float(last["time_total_s"]) if last is not None and "time_total_s" in last else float("nan"),
        "error": _last_line(error) if status == "errored" else None,
        "attempts": record.num_failures + (1 if record.finished or last is not None else 0),
    }


def _last_line(error: str | None) -> str:
    lines = [line.strip() for line in (error or "error").strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "error")[:500]


def _depth_metrics(n_layers: int) -> list[str]:
    return [depth_metric(d) for d in range(1, n_layers + 1)]


def _best(history: pd.DataFrame, column: str) -> float:
    return float(history[column].max()) if not history.empty else float("nan")


def _trial_dtypes(n_layers: int) -> dict[str, str]:
    dtypes = dict.fromkeys(trial_columns(n_layers), "float64")
    for key, rule in RULES.items():
        dtypes[key] = "str" if rule.type is str else ("int64" if rule.type is int else "float64")
    dtypes.update(trial_index="int64", trial_id="str", status="str", error="str")
    dtypes.update(steps="int64", total_steps="int64", evaluations="int64", attempts="int64")
    return dtypes


def params_of(row: pd.Series) -> dict[str, Any]:
    """The trial's parameters as plain Python values."""
    return {key: plain(row[key]) for key in PARAM_COLUMNS}


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value (for JSON and Optuna); anything else unchanged."""
    return value.item() if hasattr(value, "item") else value
