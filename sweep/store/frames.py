"""Trial results as pandas, read from the Ray Tune experiment: one row per trial, one row per report.

Reading Ray's own files works while a sweep runs, after it crashed and after it finished
(``sweep.store.folder.load_trials`` / ``load_reports``; the saved ``trials.parquet`` and
``reports.parquet`` are the same frames). The columns are declared here once and listed in the README
("Analysing results").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from sweep.config.search_space import RULES
from sweep.store.files import Folder
from sweep.store.tune_state import TrialRecord, read_history, read_records
from trainables.errors import RunFailed
from trainables.metrics import DEPTH_METRIC, FAILURE, MEAN_DEPTH, OBJECTIVE, TIMING_COLUMNS, best_column, depth_metric

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


class NoResultsError(RunFailed):
    """Every trial failed before its first evaluation: there is nothing to retrain."""


def trial_columns(n_layers: int) -> list[str]:
    """Columns of ``load_trials`` for a model of ``n_layers`` layers, in order."""
    depths = [best_column(metric) for metric in _depth_metrics(n_layers)]
    return ["trial_index", "trial_id", "status", *PARAM_COLUMNS, *TRIAL_SCORE_COLUMNS, *depths, *TRIAL_TAIL_COLUMNS]


def report_columns(n_layers: int) -> list[str]:
    """Columns of ``load_reports`` for a model of ``n_layers`` layers, in order."""
    return [*REPORT_HEAD_COLUMNS, *_depth_metrics(n_layers), *REPORT_TAIL_COLUMNS]


def read_results(
    folder: Folder, superseded: Iterable[str] = (), n_layers: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, reports) of the Ray Tune experiment in ``folder``, in creation order.

    Trials a resume restarted (``superseded``) are left out: their restarts count instead. ``n_layers``
    (the model's depth) is read from the reported columns when not given.
    """
    skip = set(superseded)
    records = [record for record in read_records(folder) if record.trial_id not in skip]
    histories = [last_attempt(read_history(folder, record)) for record in records]
    n_layers = int(n_layers) if n_layers is not None else reported_depth(histories)
    reports = _reports_frame(records, histories, n_layers)
    trials = pd.DataFrame(
        [
            _trial_row(i, record, reports[reports["trial_index"] == i], history, n_layers)
            for i, (record, history) in enumerate(zip(records, histories, strict=True))
        ],
        columns=trial_columns(n_layers),
    )
    return trials.astype(trial_dtypes(n_layers)), reports


def scored_trials(trials: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The trials that have a score in every one of ``columns``: what the plots place on a score axis."""
    return trials[trials["status"] != "errored"].dropna(subset=columns)


def last_attempt(history: pd.DataFrame) -> pd.DataFrame:
    """The rows of a trial's last attempt: a retried trial starts again from step 1, after its earlier rows."""
    if history.empty or "step" not in history:
        return history
    restarts = (history["step"].diff() <= 0).to_numpy().nonzero()[0]
    return history.iloc[restarts[-1] :] if len(restarts) else history


def reported_depth(histories: list[pd.DataFrame]) -> int:
    """The model's depth from the reported columns (of trial histories or a reports frame), for a folder
    without experiment.json."""
    depths = [int(m.group(1)) for history in histories for key in history.columns if (m := DEPTH_METRIC.match(key))]
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
            rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    fills = {"training_iteration": 0, "timestamp": 0, "epoch": float("nan")}
    return frame.fillna(fills).astype(report_dtypes(n_layers))


def report_dtypes(n_layers: int) -> dict[str, str]:
    """The type of each column of ``load_reports`` (also what reports.parquet must hold)."""
    dtypes = dict.fromkeys(report_columns(n_layers), "float64")
    dtypes.update(trial_index="int64", trial_id="str", training_iteration="int64", step="int64", total_steps="int64")
    dtypes.update(completed="bool", timestamp="int64", **{FAILURE: "object"})
    return dtypes


def _trial_row(
    index: int, record: TrialRecord, reports: pd.DataFrame, history: pd.DataFrame, n_layers: int
) -> dict[str, Any]:
    scored = reports[reports[OBJECTIVE].notna()]
    last = history.iloc[-1] if not history.empty else None
    error = record.error
    failure = last.get(FAILURE) if last is not None else None
    if last is not None and isinstance(failure, str) and failure:
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


def trial_dtypes(n_layers: int) -> dict[str, str]:
    """The type of each column of ``load_trials`` (also what trials.parquet must hold)."""
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
