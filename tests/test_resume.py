"""What a resume tells Optuna: finished trials replayed into the new study, interrupted configs first."""

from __future__ import annotations

import json

import optuna

from sweep.config.experiment import load_config
from sweep.store.files import Folder
from sweep.tuning.searcher import build_searcher
from sweep.tuning.space import param_space
from sweep.workflow.resume import plan_resume

from .conftest import SMOKE, result_rows, trial_state


def _experiment_state(tmp_path, reference, trials):
    for entry in trials:  # the smoke recipe's searched values: the reference's
        state = json.loads(entry[0])
        state["config"] = dict(reference)
        entry[0] = json.dumps(state)
    (tmp_path / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps({"trial_data": trials}))


def _crashed_folder(tmp_path, reference):
    trials = [trial_state("done", "TERMINATED", 1), trial_state("broke", "ERROR", 2), trial_state("cut", "RUNNING", 3)]
    _experiment_state(tmp_path, reference, trials)
    result_rows(tmp_path, "done", [4, 8, 12], completed_at=12)
    result_rows(tmp_path, "broke", [4])
    result_rows(tmp_path, "cut", [4])
    return Folder(tmp_path)


def test_finished_trials_reach_the_new_study_and_interrupted_ones_run_first(tmp_path):
    config = load_config(SMOKE, ["search.num_samples=5"])
    reference = config.reference
    plan = plan_resume(_crashed_folder(tmp_path, reference), config, superseded=[])
    assert (plan.kept, plan.left, plan.superseded) == (2, 3, ["cut"])
    assert plan.warmstart.num_samples == 3 and len(plan.warmstart.rerun) == 1

    searcher = build_searcher(config, plan.warmstart)
    searcher.set_search_properties("sts_dev_spearman_cosine", "max", param_space(config.space, reference))
    study = searcher.searcher.study()
    states = [trial.state for trial in study.trials]
    assert states == [optuna.trial.TrialState.WAITING, optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL]
    done = study.trials[1]
    assert done.value == 0.62 and done.intermediate_values == {0: 0.54, 1: 0.58, 2: 0.62}
    assert study.trials[0].system_attrs["fixed_params"] == plan.warmstart.rerun[0]  # enqueued, not yet run


def test_a_resumed_study_hears_what_the_sweep_told_it(tmp_path):
    config = load_config(SMOKE, ["search.num_samples=5"])
    reference = config.reference
    _experiment_state(
        tmp_path, reference, [trial_state("peaked", "TERMINATED", 1), trial_state("cut", "TERMINATED", 2)]
    )
    result_rows(tmp_path, "peaked", [4, 8, 12], completed_at=12, scores=[0.60, 0.66, 0.63])  # peaks, then declines
    result_rows(tmp_path, "cut", [4], scores=[0.70])  # stopped at its first rung

    plan = plan_resume(Folder(tmp_path), config, superseded=[])
    searcher = build_searcher(config, plan.warmstart)
    searcher.set_search_properties("sts_dev_spearman_cosine", "max", param_space(config.space, reference))
    peaked, cut = searcher.searcher.study().trials
    assert (peaked.state, peaked.value) == (optuna.trial.TrialState.COMPLETE, 0.66)  # its best, not its last
    assert (cut.state, cut.intermediate_values) == (optuna.trial.TrialState.PRUNED, {0: 0.70})


def test_the_resumed_sweeps_asha_holds_the_finished_trials_in_its_rungs(tmp_path):
    """ASHA's rungs start where the crash left them: the finished trials' recorded scores (the errored one
    too, up to where it broke), not the interrupted trial's, which runs again."""
    from datasets import Dataset

    from sweep.tuning.tuner import SweepPlan, tuner_spec
    from trainables.data import StsPairs, TrialData, in_memory

    config = load_config(SMOKE, ["search.num_samples=5", "scheduler.grace_period=1", "scheduler.reduction_factor=2"])
    plan = plan_resume(_crashed_folder(tmp_path, config.reference), config, superseded=[])
    assert [reported.trial_id for reported in plan.earlier] == ["done", "broke"]
    assert [reported.errored for reported in plan.earlier] == [False, True]
    rows = Dataset.from_dict({"anchor": ["a"], "positive": ["b"], "negative": ["c"]})
    data = TrialData(in_memory(rows), StsPairs([], [], []))
    spec = tuner_spec(config, data, SweepPlan(n_layers=4, max_evaluations=3), tmp_path / "next", earlier=plan.earlier)
    rungs = {milestone: recorded for milestone, recorded in spec.tune_config.scheduler._brackets[0]._rungs}
    assert rungs[1] == {"done": 0.54, "broke": 0.54} and rungs[2] == {"done": 0.58}
    fresh = tuner_spec(config, data, SweepPlan(n_layers=4, max_evaluations=3), tmp_path / "fresh")
    assert all(not recorded for _, recorded in fresh.tune_config.scheduler._brackets[0]._rungs)
