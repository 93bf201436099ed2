"""Trial results as pandas: one row per trial (``load_trials``), one row per report (``load_reports``).

Both read the Ray Tune experiment folder itself, so they work while a sweep runs, after it crashed and
after it finished; ``trials.parquet`` and ``reports.parquet`` are the same frames, saved when the sweep
ends. The columns are declared here once and listed in the README ("Analysing results").
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from sweep.search_space import RULES
from sweep.tune_folder import TrialRecord, read_trials
from trainables.errors import InputError
from trainables.metrics import MEAN_DEPTH, OBJECTIVE, depth_metric

TRIALS_FILE = "trials.parquet"
REPORTS_FILE = "reports.parquet"
# unfinished: started, but neither done nor stopped yet: still running, or the sweep ended before it did.
STATUSES = ("completed", "pruned", "errored", "unfinished")
PARAM_COLUMNS = tuple(RULES)
# Per trial, after the parameters; sts_dev_best_depth_1..L follow sts_dev_best_mean_depth.
TRIAL_SCORE_COLUMNS = ("sts_dev_best", "sts_dev_final", "sts_dev_best_mean_depth")
TRIAL_TAIL_COLUMNS = ("steps", "total_steps", "evaluations", "time_s", "error")
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
REPORT_TAIL_COLUMNS = ("completed", "time_total_s", "time_this_iter_s", "timestamp")
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
    ``evaluations``, ``time_s``, ``error``.
    """
    return read_results(path)[0]


def load_reports(path: Path | str) -> pd.DataFrame:
    """One row per STS-dev evaluation of every trial of ``path``: the trial, its step, STS-dev at every depth."""
    return read_results(path)[1]


def read_results(path: Path | str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, reports) of an experiment folder, read from the Ray Tune experiment inside it.

    A folder without a Ray Tune experiment but with the saved Parquet files (a copy of the results only)
    reads those instead.
    """
    records = read_trials(path)
    local = Path(str(path))
    if not records and "://" not in str(path) and (local / TRIALS_FILE).is_file():
        return pd.read_parquet(local / TRIALS_FILE), pd.read_parquet(local / REPORTS_FILE)
    if not records and not _is_experiment(path):
        raise InputError(f"{path}: no Ray Tune experiment or {TRIALS_FILE} here; give an experiment folder")
    n_layers = _n_layers(path, records)
    reports = _reports_frame(records, n_layers)
    trials = pd.DataFrame(
        [_trial_row(i, record, reports[reports["trial_index"] == i], n_layers) for i, record in enumerate(records)],
        columns=trial_columns(n_layers),
    )
    return trials.astype(_trial_dtypes(n_layers)), reports


def _is_experiment(path: Path | str) -> bool:
    """A folder `sweep run` made (before Tune writes anything) or a Ray Tune experiment; URIs are trusted."""
    local = Path(str(path))
    made = (local / "experiment.json").is_file() or any(local.glob("experiment_state-*.json"))
    return "://" in str(path) or (local.is_dir() and made)


def _n_layers(path: Path | str, records: list[TrialRecord]) -> int:
    """The model's depth: from experiment.json when the sweep wrote it, else from the reported columns."""
    meta = Path(str(path)) / "experiment.json"
    if "://" not in str(path) and meta.is_file():
        return int(json.loads(meta.read_text())["n_layers"])
    depths = [int(m.group(1)) for r in records for row in r.reports[:1] for key in row if (m := _DEPTH.match(key))]
    return max(depths, default=0)


def _reports_frame(records: list[TrialRecord], n_layers: int) -> pd.DataFrame:
    columns = report_columns(n_layers)
    rows = []
    for index, record in enumerate(records):
        for report in record.reports:
            if OBJECTIVE not in report:
                continue  # not an evaluation row (Tune may log bookkeeping-only results)
            row = {key: report.get(key) for key in columns}
            row["trial_index"], row["trial_id"] = index, record.trial_id
            if row[MEAN_DEPTH] is None:  # sweeps from before the mean was reported
                depths = [report[depth_metric(d)] for d in range(1, n_layers + 1) if depth_metric(d) in report]
                row[MEAN_DEPTH] = sum(depths) / len(depths) if depths else None
            rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    dtypes = dict.fromkeys(columns, "float64")
    dtypes.update(trial_index="int64", trial_id="str", training_iteration="int64", step="int64", total_steps="int64")
    dtypes.update(completed="bool", timestamp="int64")
    return frame.astype(dtypes)


def _trial_row(index: int, record: TrialRecord, history: pd.DataFrame, n_layers: int) -> dict[str, Any]:
    last = history.iloc[-1] if not history.empty else None
    if record.error is not None or record.state == "ERROR":
        status = "errored"
    elif last is not None and bool(last["completed"]):
        status = "completed"
    elif record.state == "TERMINATED":
        status = "pruned"  # Tune ended it before its last step: the scheduler stopped it
    else:
        status = "unfinished"
    return {
        "trial_index": index,
        "trial_id": record.trial_id,
        "status": status,
        **{key: record.params.get(key) for key in PARAM_COLUMNS},
        "sts_dev_final": float(last[OBJECTIVE]) if last is not None else float("nan"),
        **{
            best_column(m): _best(history, m)
            for m in (OBJECTIVE, MEAN_DEPTH, *map(depth_metric, range(1, n_layers + 1)))
        },
        "steps": int(last["step"]) if last is not None else 0,
        "total_steps": int(last["total_steps"]) if last is not None else 0,
        "evaluations": len(history),
        "time_s": float(last["time_total_s"]) if last is not None else float("nan"),
        "error": record.error if status == "errored" else None,
    }


def _depth_metrics(n_layers: int) -> list[str]:
    return [depth_metric(d) for d in range(1, n_layers + 1)]


def _best(history: pd.DataFrame, column: str) -> float:
    return float(history[column].max()) if not history.empty else float("nan")


def _trial_dtypes(n_layers: int) -> dict[str, str]:
    dtypes = dict.fromkeys(trial_columns(n_layers), "float64")
    for key, rule in RULES.items():
        dtypes[key] = "str" if rule.type is str else ("int64" if rule.type is int else "float64")
    dtypes.update(trial_index="int64", trial_id="str", status="str", error="str")
    dtypes.update(steps="int64", total_steps="int64", evaluations="int64")
    return dtypes


def params_of(row: pd.Series) -> dict[str, Any]:
    """The trial's parameters as plain Python values."""
    return {key: plain(row[key]) for key in PARAM_COLUMNS}


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value (for JSON and Optuna); anything else unchanged."""
    return value.item() if hasattr(value, "item") else value
