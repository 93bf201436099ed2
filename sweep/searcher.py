"""Optuna's side of the sweep: TPE proposes configs and is told, of each finished trial, what the sweep
ranks trials by.

A trial that ran its whole budget, or ended itself on ``scheduler.patience``, is told the scores of its
best evaluation by the objective's selection rule (``sweep.objective``): the evaluation that places it
when the retrained config is picked, both values from that one evaluation when there are two
objectives. A trial ASHA stopped is told it was pruned, with its scores so far as intermediate values,
as Optuna's own pruners would: its last score comes from fewer steps than a finished trial's, so
telling it as a result would rank an early score against a late one (a recipe that peaks early and
then declines would make every pruned trial look better than every finished one). TPE ranks pruned
trials after the finished ones, by how far they got; like the report, it never counts one as the
best. A trial that failed is told it failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import optuna
from optuna.samplers import TPESampler
from optuna.storages import BaseStorage, InMemoryStorage
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

from sweep.config import ExperimentConfig
from sweep.objective import search_metric
from sweep.search_space import first_point
from sweep.study_storage import RAY_TRIAL_ID
from trainables.metrics import FAILURE
from trainables.selection import Selection

STUDY_NAME = "sweep"


@dataclass(frozen=True)
class Warmstart:
    """What a resumed sweep carries over: finished trials told to Optuna, interrupted configs to rerun."""

    evaluated: list[dict[str, Any]] = field(default_factory=list)  # add_evaluated_point keyword arguments
    rerun: list[dict[str, Any]] = field(default_factory=list)  # searched values of interrupted trials
    num_samples: int = 1  # trials still to create, the reruns included


@dataclass(frozen=True)
class Told:
    """What Optuna is told of one finished trial."""

    state: Literal["complete", "pruned", "failed"]
    values: list[float] | None = None  # complete: each metric's value at the chosen evaluation


def told(reports: Sequence[Mapping[str, Any]], metrics: list[str], selection: Selection) -> Told:
    """The outcome of a trial from its reports (its last attempt's, in order); ``metrics`` in Optuna's order."""
    if not reports:
        return Told("pruned")  # ended before its first report (removed while pending)
    last = reports[-1]
    if isinstance(last.get(FAILURE), str) and last[FAILURE]:
        return Told("failed")
    if not _completed(last):
        return Told("pruned")
    chosen = selection.choose(reports)
    if chosen is None:
        return Told("failed")  # nothing to tell
    return Told("complete", [float(reports[chosen][m]) for m in metrics])


def _completed(report: Mapping[str, Any]) -> bool:
    flag = report.get("completed")
    return isinstance(flag, bool | np.bool_) and bool(flag)  # NaN in a frame's row that had no flag


class SweepSearch(OptunaSearch):
    """OptunaSearch told each finished trial's outcome (see ``told``), and, when a sweep resumes, first
    the trials finished before it stopped."""

    def __init__(
        self,
        *args,
        selection: Selection,
        evaluated: Sequence[dict[str, Any]] = (),
        storage: BaseStorage | None = None,
        study_name: str = STUDY_NAME,
        **kwargs,
    ):
        # The study's storage is named here rather than left to OptunaSearch, so that `study()` can open
        # the study through Optuna's public API. A stored study that exists already is loaded, not
        # created again (OptunaSearch creates it with load_if_exists): that is how a resume goes on.
        self.storage = storage if storage is not None else InMemoryStorage()
        self.study_name = study_name
        super().__init__(*args, storage=self.storage, study_name=study_name, **kwargs)
        self._selection = selection
        self._evaluated = list(evaluated)
        self._reports: dict[str, list[dict[str, Any]]] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec) -> bool:
        """Tune hands over the search space here, and the study is created: the replayed trials go in
        first, so TPE's first proposal already knows them."""
        ready = super().set_search_properties(metric, mode, config, **spec)
        if ready:
            for point in self._evaluated:
                self.add_evaluated_point(**point)
        return ready

    def study(self) -> optuna.Study:
        """The Optuna study behind the searcher (after Tune handed it the search space)."""
        return optuna.load_study(study_name=self.study_name, storage=self.storage)

    def suggest(self, trial_id: str) -> dict | None:
        """Tune's next config; the Optuna trial behind it records the Tune trial's id, so that a resume
        can tell which stored trials a crash interrupted."""
        config = super().suggest(trial_id)
        # Ray-private: OptunaSearch keeps the Optuna trial it asked for each Tune trial in `_ot_trials` and
        # has no public getter (tests/test_ray_start.py fails if that moves).
        if trial_id in self._ot_trials:
            self._ot_trials[trial_id].set_user_attr(RAY_TRIAL_ID, trial_id)
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._keep(trial_id, result)
        super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if result and self._keep(trial_id, result) and not error and all(m in result for m in self._metric_list):
            # The result ASHA stops a trial on reaches this hook only, not on_trial_result: it becomes
            # the trial's last intermediate value, which TPE ranks pruned trials by.
            super().on_trial_result(trial_id, result)
        outcome = told(self._reports.pop(trial_id, []), self._metric_list, self._selection)
        if error or outcome.state != "complete":
            super().on_trial_complete(trial_id, None, error=error or outcome.state == "failed")
            return
        super().on_trial_complete(trial_id, dict(zip(self._metric_list, outcome.values or [], strict=True)))

    @property
    def _metric_list(self) -> list[str]:
        return self.metric if isinstance(self.metric, list) else [self.metric]

    def _keep(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        """Keep the report, once, and only the last attempt's (a retried trial starts again from step 1);
        whether it was new."""
        if "step" not in result:
            return False
        row = {key: result.get(key) for key in ("step", "completed", FAILURE, *self._metric_list)}
        rows = self._reports.setdefault(trial_id, [])
        if rows and row == rows[-1]:
            return False  # Tune hands a finished trial's last result over more than once
        if rows and row["step"] <= rows[-1]["step"]:
            rows.clear()
        rows.append(row)
        return True


def build_searcher(
    config: ExperimentConfig, warmstart: Warmstart | None = None, storage: BaseStorage | None = None
) -> ConcurrencyLimiter:
    """Optuna TPE, seeded, with the reference defaults as the first point it evaluates.

    TPE handles one objective or several; with two, Optuna keeps a Pareto front of the trials. The study
    is ``search.study_name`` in ``storage`` (in memory when None). A resumed sweep instead starts with
    the configs the crash interrupted, in the stored study it goes on with, or after replaying the
    finished trials into a new one, so TPE proposes as if it had never stopped.
    """
    metric, mode = search_metric(config.objective)
    sampler = TPESampler(seed=config.search.seed, n_startup_trials=config.search.n_startup_trials)
    study = {"storage": storage, "study_name": config.search.study_name or STUDY_NAME}
    if warmstart is None:
        first = first_point(config.space, config.reference)
        points = [first] if first else None
        searcher = SweepSearch(
            metric=metric,
            mode=mode,
            sampler=sampler,
            points_to_evaluate=points,
            selection=config.objective.selection,
            **study,
        )
    else:
        searcher = SweepSearch(
            metric=metric,
            mode=mode,
            sampler=sampler,
            points_to_evaluate=warmstart.rerun or None,
            evaluated=warmstart.evaluated,
            selection=config.objective.selection,
            **study,
        )
    return ConcurrencyLimiter(searcher, max_concurrent=config.search.max_concurrent)
