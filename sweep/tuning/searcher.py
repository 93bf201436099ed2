"""Optuna's side of the sweep: TPE proposes configs and is told, of each finished trial, what the sweep
ranks trials by.

A trial that ran its whole budget, or ended itself on ``scheduler.patience``, is told the scores of its
best evaluation by the objective's selection rule (``sweep.config.objective``): the evaluation that places it
when the retrained config is picked, both values from that one evaluation when there are two
objectives. A trial ASHA stopped is told it was pruned, with its scores so far as intermediate values,
as Optuna's own pruners would: its last score comes from fewer steps than a finished trial's, so
telling it as a result would rank an early score against a late one (a recipe that peaks early and
then declines would make every pruned trial look better than every finished one). TPE ranks pruned
trials after the finished ones, by how far they got; like the report, it never counts one as the
best. A trial that failed is told it failed.

Under ``objective.full_depth_margin`` each trial told complete or pruned also carries its constraint
(``Trial.set_constraint``, which TPE reads; a value <= 0 is feasible): how far its full-depth
STS-dev, at the evaluation the selection rule chose, falls short of the reference defaults' trial's, at
its own, minus the margin. TPE then models the feasible region and prefers configs inside it. A trial that
ends before the reference trial's first evaluation counts as feasible: there is nothing yet to fall short of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import optuna
from optuna.samplers import TPESampler
from optuna.storages import BaseStorage, InMemoryStorage
from optuna.trial import TrialState
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

from sweep.config.experiment import ExperimentConfig
from sweep.config.objective import search_metric
from sweep.config.search_space import first_point
from sweep.store.ranking import is_reference
from sweep.tuning.study import RAY_TRIAL_ID
from trainables.internals import optuna_distributions_of, optuna_trial_of
from trainables.metrics import FAILURE, OBJECTIVE
from trainables.selection import Selection

STUDY_NAME = "sweep"


@dataclass(frozen=True)
class Warmstart:
    """What a resumed sweep carries over: finished trials told to Optuna, interrupted configs to rerun."""

    evaluated: list[dict[str, Any]] = field(default_factory=list)  # add_evaluated_point keyword arguments
    rerun: list[dict[str, Any]] = field(default_factory=list)  # searched values of interrupted trials
    num_samples: int = 1  # trials still to create, the reruns included
    reference_reports: list[dict[str, Any]] = field(default_factory=list)  # the defaults' trial's, when finished
    constraints: list[float | None] = field(default_factory=list)  # each evaluated point's, under a margin


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


CONSTRAINT = "full_depth"  # the constraint's name on each Optuna trial (Trial.set_constraint)
# Where Trial.set_constraint keeps it, for a replayed trial created finished (tests/test_constraint.py reads
# the trials' `constraints` back, so a change in Optuna's format fails there).
CONSTRAINT_ATTR = f"constraints:{CONSTRAINT}"


def full_depth_at_choice(reports: Sequence[Mapping[str, Any]], selection: Selection) -> float | None:
    """Full-depth STS-dev at the evaluation the selection rule chooses, or None where there is none."""
    chosen = selection.choose(reports)
    value = None if chosen is None else reports[chosen].get(OBJECTIVE)
    return float(value) if isinstance(value, int | float) and np.isfinite(value) else None


def shortfall(
    reports: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]], margin: float, selection: Selection
) -> float:
    """A trial's constraint value: the reference trial's full-depth STS-dev minus the margin, minus the
    trial's (each at the evaluation the selection rule chose; <= 0: feasible). 0 where either has none."""
    mine, theirs = full_depth_at_choice(reports, selection), full_depth_at_choice(reference, selection)
    return 0.0 if mine is None or theirs is None else theirs - margin - mine


def _completed(report: Mapping[str, Any]) -> bool:
    flag = report.get("completed")
    return isinstance(flag, bool | np.bool_) and bool(flag)  # NaN in a frame's row that had no flag


class SweepSearch(OptunaSearch):
    """OptunaSearch told each finished trial's outcome (see ``told``), and, when a sweep resumes, first
    the trials finished before it stopped."""

    def __init__(
        self,
        *,
        selection: Selection,
        evaluated: Sequence[dict[str, Any]] = (),
        storage: BaseStorage | None = None,
        study_name: str = STUDY_NAME,
        margin: float | None = None,
        reference: Mapping[str, Any] | None = None,
        reference_reports: Sequence[dict[str, Any]] = (),
        constraints: Sequence[float | None] = (),
        **kwargs,
    ):
        # The study's storage is named here rather than left to OptunaSearch, so that `study()` can open
        # the study through Optuna's public API. A stored study that exists already is loaded, not
        # created again (OptunaSearch creates it with load_if_exists): that is how a resume goes on.
        self.storage = storage if storage is not None else InMemoryStorage()
        self.study_name = study_name
        super().__init__(storage=self.storage, study_name=study_name, **kwargs)
        self._selection = selection
        self._evaluated = list(evaluated)
        self._reports: dict[str, list[dict[str, Any]]] = {}
        # Under objective.full_depth_margin: the margin, the searched values of the reference defaults, the
        # Tune id of the trial run at them, its reports so far, and the replayed points' constraints.
        self._margin = margin
        self._reference = dict(reference or {})
        self._reference_id: str | None = None
        self._reference_reports = list(reference_reports)
        self._constraints = list(constraints)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec) -> bool:
        """Tune hands over the search space here, and the study is created: the replayed trials go in
        first, so TPE's first proposal already knows them."""
        ready = super().set_search_properties(metric, mode, config, **spec)
        if ready:
            study = self.study() if self._constraints else None  # loaded once: a resume may replay thousands
            for point, value in zip(self._evaluated, self._constraints or [None] * len(self._evaluated), strict=True):
                self._replay(point, value, study)
        return ready

    def _replay(self, point: dict[str, Any], constraint: float | None, study: optuna.Study | None) -> None:
        """Add a trial finished before the resume; under a margin with its constraint, which a finished
        trial cannot be given afterwards, so the trial is built here as ``add_evaluated_point`` builds it."""
        if constraint is None or study is None:
            self.add_evaluated_point(**point)
            return
        state = TrialState.FAIL if point["error"] else TrialState.PRUNED if point["pruned"] else TrialState.COMPLETE
        value = None if state == TrialState.FAIL else point["value"]
        intermediate = dict(enumerate(point.get("intermediate_values") or [])) or None
        trial = optuna.trial.create_trial(
            state=state,
            value=value if not isinstance(value, list) else None,
            values=value if isinstance(value, list) else None,
            params=point["parameters"],
            distributions=optuna_distributions_of(self),
            intermediate_values=intermediate,
            system_attrs={CONSTRAINT_ATTR: constraint},
        )
        study.add_trial(trial)

    def study(self) -> optuna.Study:
        """The Optuna study behind the searcher (after Tune handed it the search space)."""
        return optuna.load_study(study_name=self.study_name, storage=self.storage)

    def suggest(self, trial_id: str) -> dict | None:
        """Tune's next config; the Optuna trial behind it records the Tune trial's id, so that a resume
        can tell which stored trials a crash interrupted."""
        config = super().suggest(trial_id)
        optuna_trial = optuna_trial_of(self, trial_id)
        if optuna_trial is not None:
            optuna_trial.set_user_attr(RAY_TRIAL_ID, trial_id)
        if self._margin is not None and self._reference_id is None and self._is_reference(config):
            self._reference_id = trial_id
        return config

    def _is_reference(self, config: Mapping[str, Any] | None) -> bool:
        if not isinstance(config, Mapping) or self._reference_reports:
            return False  # a resumed sweep whose reference trial finished before has its reports already
        return is_reference(config, self._reference)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._keep(trial_id, result)
        super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if result and self._keep(trial_id, result) and not error and all(m in result for m in self._metric_list):
            # The result ASHA stops a trial on reaches this hook only, not on_trial_result: it becomes
            # the trial's last intermediate value, which TPE ranks pruned trials by.
            super().on_trial_result(trial_id, result)
        reports = self._reports.pop(trial_id, [])
        if trial_id == self._reference_id:
            self._reference_reports = reports
        outcome = told(reports, self._metric_list, self._selection)
        optuna_trial = optuna_trial_of(self, trial_id)
        if self._margin is not None and optuna_trial is not None and outcome.state != "failed":
            optuna_trial.set_constraint(CONSTRAINT, self._shortfall(reports))
        if error or outcome.state != "complete":
            super().on_trial_complete(trial_id, None, error=error or outcome.state == "failed")
            return
        super().on_trial_complete(trial_id, dict(zip(self._metric_list, outcome.values or [], strict=True)))

    def _shortfall(self, reports: Sequence[Mapping[str, Any]]) -> float:
        """The trial's constraint value, against the reference trial's reports so far."""
        reference = self._reference_reports or self._reports.get(self._reference_id or "", [])
        return shortfall(reports, reference, self._margin or 0.0, self._selection)

    @property
    def _metric_list(self) -> list[str]:
        return self.metric if isinstance(self.metric, list) else [self.metric]

    def _keep(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        """Keep the report, once, and only the last attempt's (a retried trial starts again from step 1);
        whether it was new."""
        if "step" not in result:
            return False
        row = {key: result.get(key) for key in ("step", "completed", FAILURE, OBJECTIVE, *self._metric_list)}
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
    margin = config.objective.full_depth_margin
    # A trial's constraint (set on it before it is told) is what makes TPE model the feasible region.
    sampler = TPESampler(seed=config.search.seed, n_startup_trials=config.search.n_startup_trials)
    study: dict[str, Any] = {
        "storage": storage,
        "study_name": config.search.study_name or STUDY_NAME,
        "margin": margin,
        "reference": first_point(config.space, config.reference),
    }
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
            reference_reports=warmstart.reference_reports,
            constraints=warmstart.constraints,
            **study,
        )
    return ConcurrencyLimiter(searcher, max_concurrent=config.search.max_concurrent)
