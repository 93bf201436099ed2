"""The experiment folder ``results_dir/<name>-<timestamp>/``: every file in it named once, and how each is
read and written. Nothing else in the code spells one of these names.

In the order a run writes them::

    config.yaml                 the resolved config (every default written out)
    experiment.json             the command, the model's depth, trials a resume superseded
    optuna.journal              the Optuna study (unless search.storage names another place), written
                                  as trials are proposed and told; a resume goes on with it
    experiment_state-*.json,    the Ray Tune experiment itself (``Tuner.restore`` opens it)
      trial_<id>/
    reports.parquet,            the sweep's frames, saved when it ends; trials.parquet last, so its
      trials.parquet              presence marks the sweep finished
    retrain_runs/<run>.json,    each retrain run's record as it finishes (best-seed42, default-seed42,
      best_model/                 untrained), the kept model as soon as it exists: a retrain that is
                                  interrupted goes on from there
    test_similarities.parquet,  every run's STS-test similarities, then the retrain's record, last,
      retrain.json                marking the retrain done
    plot_*.png, report.json, report.md
    simulate.png, simulate.md,  what `sweep simulate` found replaying the recorded curves; the JSON last
      simulate.json
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import pandas as pd

from sweep.config.experiment import ExperimentConfig, load_config_text, to_yaml
from sweep.store.files import Folder
from sweep.store.frames import STATUSES, read_results, report_dtypes, reported_depth, trial_dtypes
from sweep.store.records import (
    SIMILARITY_DTYPES,
    SIMILARITY_RUNS,
    ExperimentMeta,
    Record,
    ReportRecord,
    RetrainRecord,
    TrainedRun,
    UntrainedRun,
    check_frame,
    fit,
    json_record,
)
from sweep.store.tune_state import state_files
from trainables.errors import InputError
from trainables.internals import TUNE_STATE_FILE

R = TypeVar("R", bound=Record)
# The times of run facts (experiment.json's created, resumed and stopped; a retrain run's start and end).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

CONFIG_FILE = "config.yaml"
META_FILE = "experiment.json"
STUDY_FILE = "optuna.journal"
TRIALS_FILE = "trials.parquet"
REPORTS_FILE = "reports.parquet"
MODEL_DIR = "best_model"
MODEL_CARD = f"{MODEL_DIR}/README.md"  # sentence-transformers' card, with the sweep's results added
RETRAIN_RUNS_DIR = "retrain_runs"
SIMILARITIES_FILE = "test_similarities.parquet"
RETRAIN_FILE = "retrain.json"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
DEPTH_PLOT, HISTORY_PLOT, CURVES_PLOT, PARETO_PLOT, IMPORTANCE_PLOT = (
    "plot_depth.png",
    "plot_history.png",
    "plot_learning_curves.png",
    "plot_pareto.png",
    "plot_importance.png",
)
# The report links the plots in this order, then one axis plot per swept parameter.
PLOT_TITLES = {
    DEPTH_PLOT: "STS-test quality against depth",
    HISTORY_PLOT: "Optimisation history",
    CURVES_PLOT: "Learning curves",
    PARETO_PLOT: "Pareto front",
    IMPORTANCE_PLOT: "Parameter importance",
}
SIMULATE_JSON, SIMULATE_MD, SIMULATE_PLOT = "simulate.json", "simulate.md", "simulate.png"
_AXIS_PREFIX, _AXIS_SUFFIX = "plot_axis_", ".png"
_PLOT_PREFIX = "plot_"
# Entries that are files, and those that are folders: anything else under one of these names (a folder
# report.json, a file best_model) could be neither read nor replaced, so it is refused before any work.
FILES = (
    CONFIG_FILE,
    META_FILE,
    STUDY_FILE,
    REPORTS_FILE,
    TRIALS_FILE,
    SIMILARITIES_FILE,
    RETRAIN_FILE,
    REPORT_JSON,
    REPORT_MD,
    SIMULATE_PLOT,
    SIMULATE_MD,
    SIMULATE_JSON,
)
FOLDERS = (MODEL_DIR, RETRAIN_RUNS_DIR)


def axis_plot(key: str) -> str:
    """The axis plot of one swept parameter."""
    return f"{_AXIS_PREFIX}{key}{_AXIS_SUFFIX}"


def plot_title(name: str) -> str:
    """How report.md titles a plot file."""
    return PLOT_TITLES.get(name) or f"Axis plot: {name.removeprefix(_AXIS_PREFIX).removesuffix(_AXIS_SUFFIX)}"


def config_digest(config: ExperimentConfig) -> str:
    """Names a config as the user gave it (before paths are resolved, which differ between two copies of
    a job's working directory), so a second run of the same job finds the first one's folder."""
    return hashlib.sha256(to_yaml(config).encode("utf-8")).hexdigest()


def now_stamp() -> str:
    """The present time, as run facts record it (``TIME_FORMAT``)."""
    return time.strftime(TIME_FORMAT)


@dataclass(frozen=True)
class Retrained:
    """What the retrain left: retrain.json's record and the similarities behind the verdict."""

    record: dict[str, Any]  # per-seed runs of the best config and the defaults, the untrained scores, both configs
    similarities: pd.DataFrame  # see sweep.store.similarities.similarity_frame


class ExperimentFolder:
    """One experiment folder, on a disk or behind a URI."""

    def __init__(self, location: ExperimentFolder | Folder | Path | str):
        self.files: Folder = location.files if isinstance(location, ExperimentFolder) else Folder.of(location)

    @classmethod
    def create(cls, results_dir: str, name: str) -> ExperimentFolder:
        """A new folder ``results_dir/<name>-<timestamp>``."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        results = Folder(results_dir)
        folder_name, n = f"{name}-{stamp}", 1
        while results.exists(folder_name):  # two runs in the same second
            n += 1
            folder_name = f"{name}-{stamp}-{n}"
        folder = results.child(folder_name)
        folder.make()
        return cls(folder)

    @classmethod
    def started_by(cls, results_dir: str, name: str, digest: str) -> ExperimentFolder | None:
        """The newest folder ``results_dir/<name>-*`` whose run was started with the config ``digest``."""
        results = Folder(results_dir)
        for folder_name in sorted(results.names(), reverse=True):  # the timestamp in the name sorts them
            folder = results.child(folder_name)
            if folder_name.startswith(f"{name}-") and folder.is_file(META_FILE):
                meta = folder.read_json(META_FILE)
                if isinstance(meta, dict) and meta.get("config_digest") == digest:
                    return cls(folder)
        return None

    @property
    def location(self) -> str:
        """As a user names it: the local path, or the URI."""
        return str(self.files.local) if self.files.local is not None else self.files.location

    def __str__(self) -> str:
        return str(self.files)

    def _required(self, name: str) -> str:
        if not self.files.is_file(name):
            raise InputError(f"{self}: no {name}; is this an experiment folder of `sweep run`?")
        return name

    def remedy(self, name: str) -> str:
        """What rebuilds the folder's file ``name``, or what to do where nothing does: the end of the line
        that refuses a damaged one."""
        if name in (TRIALS_FILE, REPORTS_FILE):
            if not self._has_ray():
                return "no Ray Tune experiment here to rebuild it from; restore it from a copy of the folder"
            return (
                f"`sweep resume {self}` rebuilds {TRIALS_FILE} and {REPORTS_FILE} from Ray Tune's state once both "
                "are removed"
            )
        if name in (RETRAIN_FILE, SIMILARITIES_FILE, MODEL_DIR, RETRAIN_RUNS_DIR):
            return f"`sweep retrain {self}` rebuilds it (the runs kept in {RETRAIN_RUNS_DIR}/ are not run again)"
        if name.startswith(f"{RETRAIN_RUNS_DIR}/"):
            return f"remove it: `sweep retrain {self}` runs that run again"
        if name in (SIMULATE_JSON, SIMULATE_MD, SIMULATE_PLOT):
            return f"`sweep simulate {self}` rewrites it"
        if name in (REPORT_JSON, REPORT_MD, MODEL_CARD) or name.startswith(_PLOT_PREFIX):
            return f"`sweep report {self}` rewrites it"
        return "`sweep run` writes it once and nothing rebuilds it; restore it from a copy of the folder"

    def _has_ray(self) -> bool:
        """Whether the folder holds a Ray Tune experiment (its state, or a trial's folder)."""
        names = self.files.names()
        return bool(state_files(self.files, names)) or any(name.startswith("trial_") for name in names)

    def _check_kinds(self) -> None:
        """InputError where one of the folder's names holds the wrong kind of entry."""
        for name in self.files.names():
            if name in FOLDERS:
                wanted = "folder"
            elif name in FILES or TUNE_STATE_FILE.match(name) or name.startswith(_PLOT_PREFIX):
                wanted = "file"
            else:
                continue
            found = self.files.kind(name)
            if found != wanted:
                raise InputError(
                    f"{self}/{name}: a {found} where a {wanted} belongs; move it out of the folder: {self.remedy(name)}"
                )
        if self.files.kind(MODEL_CARD) == "folder":
            raise InputError(
                f"{self}/{MODEL_CARD}: a folder where a file belongs; move it out of the folder: "
                f"{self.remedy(MODEL_CARD)}"
            )

    # The config and the meta, written when the run starts.
    def config(self, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
        """The resolved config the run saved, with ``key=value`` overrides; InputError when this is not an
        experiment folder or an override is refused."""
        if self.files.kind() != "folder":
            raise InputError(f"{self}: not a folder")
        self._check_kinds()
        text = self.files.read_text(self._required(CONFIG_FILE))
        return load_config_text(text, f"{self}/{CONFIG_FILE}", overrides)

    def write_config(self, config: ExperimentConfig) -> None:
        self.files.write_text(CONFIG_FILE, to_yaml(config))

    @overload
    def meta(self, required: Literal[True] = True) -> ExperimentMeta: ...

    @overload
    def meta(self, required: bool) -> ExperimentMeta | None: ...

    def meta(self, required: bool = True) -> ExperimentMeta | None:
        """experiment.json's run facts; with ``required`` False, None where the file is missing. Read as the
        model it is written from, so a resume or a stop adds to it what it knows and writes it back."""
        if not required and not self.files.is_file(META_FILE):
            return None
        return self._model(ExperimentMeta, self._required(META_FILE))

    def _record(self, schema: type[Record], name: str) -> dict[str, Any]:
        """The JSON file ``name`` read through its schema, as the plain JSON-ready values it holds (the keys
        the file had, and no others); InputError, saying what rebuilds it, where it is damaged."""
        return self._model(schema, name).model_dump(exclude_unset=True)

    def _model(self, schema: type[R], name: str) -> R:
        """The JSON file ``name`` read as ``schema``; InputError, saying what rebuilds it, where it is damaged."""
        remedy = self.remedy(name)
        try:
            data = self.files.read_json(name)
        except InputError as error:  # not JSON at all
            raise InputError(f"{error}; {remedy}") from None
        return fit(schema, data, f"{self}/{name}", remedy)

    def _frame(self, name: str) -> pd.DataFrame:
        """The Parquet file ``name``; InputError, saying what rebuilds it, where it is not Parquet."""
        try:
            return self.files.read_parquet(name)
        except InputError as error:
            raise InputError(f"{error}; {self.remedy(name)}") from None

    def write_meta(self, meta: ExperimentMeta) -> None:
        self.files.write_json(META_FILE, json_record(meta))

    # The Optuna study.
    def study_journal(self) -> Path | None:
        """The journal file that keeps the Optuna study by default; None behind a URI, where Optuna
        cannot write one (it locks the file on a local filesystem)."""
        return self.files.local / STUDY_FILE if self.files.local is not None else None

    # The sweep's frames.
    def is_swept(self) -> bool:
        """Whether the sweep finished (its frames are saved)."""
        return self.files.is_file(TRIALS_FILE)

    def live_results(self, superseded: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(trials, reports) read from the Ray Tune experiment inside, so also of a running or crashed
        sweep; trials a resume superseded (by default those experiment.json lists) are left out. A copy
        of the results only (no Ray files) reads the saved frames."""
        has_ray = self._has_ray()
        meta = self.meta(required=False)
        if not has_ray and self.is_swept():
            return self.saved_results()
        if not has_ray and meta is None:
            raise InputError(f"{self}: no Ray Tune experiment or {TRIALS_FILE} here; give an experiment folder")
        if superseded is None:
            superseded = meta.superseded if meta is not None else []
        return read_results(self.files, superseded, meta.n_layers if meta is not None else None)

    def saved_results(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(trials, reports) as the finished sweep saved them; InputError where the sweep has not finished,
        or a frame lacks a column the code reads or holds another type there."""
        if not self.is_swept() and (self._has_ray() or self.files.is_file(META_FILE)):
            raise InputError(f"{self}: not finished: the sweep did not end; `sweep resume {self}` finishes it")
        trials = self._frame(self._required(TRIALS_FILE))
        reports = self._frame(self._required(REPORTS_FILE))
        meta = self.meta(required=False)
        n_layers = meta.n_layers if meta is not None else reported_depth([reports])
        where = f"{self}/{TRIALS_FILE}"
        check_frame(trials, trial_dtypes(n_layers), where, self.remedy(TRIALS_FILE), {"status": STATUSES})
        check_frame(reports, report_dtypes(n_layers), f"{self}/{REPORTS_FILE}", self.remedy(REPORTS_FILE))
        return trials, reports

    def results(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The saved frames once the sweep finished (what its winner was picked from), else the live ones."""
        return self.saved_results() if self.is_swept() else self.live_results()

    def save_results(self, superseded: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Save the finished sweep's frames, read by the same reader as ``load_trials`` so that they
        cannot drift from it; returns them."""
        trials, reports = self.live_results(superseded)
        self.files.write_parquet(REPORTS_FILE, reports)
        self.files.write_parquet(TRIALS_FILE, trials)  # last: its presence marks the sweep as finished
        return trials, reports

    # The retrain.
    def has_retrain(self) -> bool:
        return self.files.is_file(RETRAIN_FILE)

    def forget_retrain(self) -> None:
        """Drop retrain.json, which the runs kept in retrain_runs/ rebuild: the folder reads as retrained no
        more, so `sweep resume` retrains (only the runs missing) instead of rewriting a stale report."""
        self.files.remove(RETRAIN_FILE)

    def retrained(self) -> Retrained:
        """retrain.json's record and the similarities beside it; InputError where the retrain has not
        finished, or either file does not fit its schema or the other."""
        if not self.has_retrain() and self.is_swept():
            raise InputError(f"{self}: not finished: the retrain did not end; `sweep resume {self}` finishes it")
        record = self._record(RetrainRecord, self._required(RETRAIN_FILE))
        if not self.files.is_file(SIMILARITIES_FILE):
            raise InputError(f"{self}: no {SIMILARITIES_FILE} beside {RETRAIN_FILE}; rerun `sweep retrain {self}`")
        where, remedy = f"{self}/{SIMILARITIES_FILE}", self.remedy(SIMILARITIES_FILE)
        frame = self._frame(SIMILARITIES_FILE)
        check_frame(frame, SIMILARITY_DTYPES, where, remedy, {"run": SIMILARITY_RUNS})
        # The verdicts pair each run's similarities with its record: every run of the record must have them.
        held = set(zip(frame["run"], frame["seed"], strict=True))
        wanted = [(name, run["seed"]) for name in SIMILARITY_RUNS[:-1] for run in record.get(name) or []]
        missing = [pair for pair in [*wanted, (SIMILARITY_RUNS[-1], -1)] if pair not in held]
        if missing:
            raise InputError(
                f"{where}: damaged (no similarities of run {missing[0][0]}, seed {missing[0][1]}); {remedy}"
            )
        return Retrained(record, frame)

    def write_retrain(self, retrained: Retrained) -> None:
        self.files.write_parquet(SIMILARITIES_FILE, retrained.similarities)
        # Last: its presence marks the retrain as done, the model and the similarities beside it.
        self.files.write_json(RETRAIN_FILE, retrained.record)

    def retrain_runs(self) -> dict[str, dict[str, Any]]:
        """The records of the retrain runs that finished, by run name (``best-seed42``)."""
        runs = {}
        for name in self.files.names(RETRAIN_RUNS_DIR):
            if name.endswith(".json"):
                path = f"{RETRAIN_RUNS_DIR}/{name}"
                if self.files.kind(path) != "file":
                    raise InputError(f"{self}/{path}: a folder where a file belongs; {self.remedy(path)}")
                run = name.removesuffix(".json")
                schema = UntrainedRun if run == SIMILARITY_RUNS[-1] else TrainedRun
                runs[run] = self._record(schema, path)
        return runs

    def write_retrain_run(self, name: str, record: TrainedRun | UntrainedRun) -> None:
        self.files.write_json(f"{RETRAIN_RUNS_DIR}/{name}.json", json_record(record))

    def has_model(self) -> bool:
        return bool(self.files.names(MODEL_DIR))

    def write_model(self, files: dict[str, bytes]) -> None:
        """The kept model, swapped in whole for any earlier one."""
        self.files.replace_folder(MODEL_DIR, files)

    def model_card(self) -> str | None:
        """The delivered model's card as it is now, or None without a model."""
        if not self.files.is_file(MODEL_CARD):
            return None
        try:
            return self.files.read_text(MODEL_CARD)
        except UnicodeDecodeError:  # damaged: it is rewritten from the report
            return None

    def write_model_card(self, text: str) -> None:
        self.files.write_text(MODEL_CARD, text)

    # The report and the plots.
    def is_reported(self) -> bool:
        return self.files.is_file(REPORT_JSON)

    def write_plot(self, name: str, png: bytes) -> None:
        self.files.write_bytes(name, png)

    def report(self) -> dict[str, Any]:
        """report.json's contents."""
        return self._record(ReportRecord, self._required(REPORT_JSON))

    def write_report(self, report: dict[str, Any], markdown: str) -> None:
        self.files.write_json(REPORT_JSON, report)
        self.files.write_text(REPORT_MD, markdown)

    # The simulation.
    def write_simulation(self, record: dict[str, Any], markdown: str, png: bytes) -> None:
        self.files.write_bytes(SIMULATE_PLOT, png)
        self.files.write_text(SIMULATE_MD, markdown)
        self.files.write_json(SIMULATE_JSON, record)  # last: a simulate.json always has its table and plot


def load_trials(path: Path | str) -> pd.DataFrame:
    """One row per started trial of the experiment folder ``path``, in creation order (0 = the reference
    defaults); read from the Ray Tune experiment, so also while a sweep runs or after it crashed.

    Columns: ``trial_index``, ``trial_id``, ``status`` (completed / pruned / errored / unfinished), every
    parameter, ``sts_dev_best`` (best full-depth STS-dev at any report), ``sts_dev_final``,
    ``sts_dev_best_mean_depth``, ``sts_dev_best_depth_1..L``, ``steps``, ``total_steps``,
    ``evaluations``, ``time_s``, ``error``, ``attempts`` (1 + the restarts after the trial raised).
    """
    return ExperimentFolder(path).live_results()[0]


def load_reports(path: Path | str) -> pd.DataFrame:
    """One row per STS-dev evaluation of every trial of ``path``: the trial, its step, STS-dev at every depth."""
    return ExperimentFolder(path).live_results()[1]
