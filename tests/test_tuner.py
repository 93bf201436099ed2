"""Tuner wiring, checked on what the Tuner is built from (``tuner_spec``) and by driving the scheduler and
the searcher through Ray Tune's public interfaces, without calling fit()."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

from sweep.config.experiment import load_config
from sweep.store.files import Folder
from sweep.tuning.tuner import tuner_spec
from sweep.workflow.commands import prepare_sweep
from trainables.metrics import MODE, OBJECTIVE

from .conftest import SMOKE


def spec_of(tmp_path, *overrides, name: str = "x"):
    prepared = prepare_sweep(load_config(SMOKE, [f"results_dir={tmp_path}", *overrides]))
    return prepared, tuner_spec(prepared.config, prepared.data, prepared.plan, Folder(tmp_path / name))


@pytest.fixture
def built(tmp_path):
    return spec_of(tmp_path, name="smoke-test")


def proposals(spec, n: int) -> list[dict]:
    """The first ``n`` configs the spec's searcher proposes, each told a score so that TPE moves on."""
    searcher = spec.tune_config.search_alg
    searcher.set_search_properties(None, None, spec.param_space)
    configs = []
    for i in range(n):
        configs.append(searcher.suggest(f"t{i}"))
        result = {OBJECTIVE: 0.5 + i / 100, "step": 4, "completed": True, "training_iteration": 1}
        searcher.on_trial_complete(f"t{i}", result)
    return configs


def test_search_is_seeded_optuna_behind_a_concurrency_limit(built, tmp_path):
    prepared, spec = built
    tune_config = spec.tune_config
    searcher = tune_config.search_alg
    assert isinstance(searcher, ConcurrencyLimiter) and searcher.max_concurrent == 2
    assert isinstance(searcher.searcher, OptunaSearch)
    # The searcher and the scheduler carry the metric; the TuneConfig names none, or Tune would refuse both.
    assert (searcher.searcher.metric, searcher.searcher.mode) == (OBJECTIVE, MODE)
    assert tune_config.scheduler.metric == OBJECTIVE
    assert tune_config.metric is None
    assert tune_config.num_samples == prepared.config.search.num_samples
    # Seeded: the same file proposes the same configs; another seed, others.
    first = proposals(spec, 6)
    assert proposals(spec_of(tmp_path)[1], 6) == first
    assert proposals(spec_of(tmp_path, "search.seed=1")[1], 6)[1:] != first[1:]


def test_the_reference_defaults_are_the_first_point(built):
    _, spec = built
    (first,) = proposals(spec, 1)
    searched = {key: first[key] for key in spec.param_space if not isinstance(spec.param_space[key], int | float | str)}
    assert searched == {
        "kl_temperature": 0.3,
        "last_layer_weight": 1.0,
        "prior_layers_weight": 1.0,
        "n_layers_per_step": 1,
        "layer_weighting": "uniform",
        "learning_rate": 1e-3,  # a trainer knob's reference value is the train section's
    }


def test_asha_counts_evaluations_and_spans_a_full_run(built):
    prepared, spec = built
    scheduler = spec.tune_config.scheduler
    assert isinstance(scheduler, ASHAScheduler)
    # 400 triplets / batch 32 = 13 steps in one epoch, an evaluation every 4 steps and at the last
    assert prepared.plan.max_evaluations == 4
    trials = {name: SimpleNamespace(trial_id=name) for name in "abcd"}
    for trial in trials.values():
        scheduler.on_trial_add(None, trial)

    def decide(name: str, evaluations: int, score: float) -> str:
        result = {"training_iteration": evaluations, OBJECTIVE: score}
        return scheduler.on_trial_result(None, trials[name], result)

    # Grace period 1, reduction factor 2: rungs after 1, 2 and 4 (= max_t) evaluations, higher is better.
    assert decide("a", 1, 0.9) == TrialScheduler.CONTINUE
    assert decide("b", 1, 0.1) == TrialScheduler.STOP  # below the rung's median
    assert decide("c", 1, 0.95) == TrialScheduler.CONTINUE
    assert decide("c", 2, 0.95) == TrialScheduler.CONTINUE
    assert decide("a", 2, 0.5) == TrialScheduler.STOP  # the rung after 2 evaluations
    assert decide("c", 3, 0.1) == TrialScheduler.CONTINUE  # no rung at 3
    assert decide("c", 4, 0.96) == TrialScheduler.STOP  # the full budget: max_t
    # Time is counted in reports (training_iteration), not steps.
    assert scheduler.on_trial_result(None, trials["d"], {"step": 12, OBJECTIVE: 0.0}) == TrialScheduler.CONTINUE


def test_trials_get_the_configured_resources_and_reuse_workers(built):
    _, spec = built
    assert spec.resources == {"cpu": 1, "gpu": 0}
    assert spec.tune_config.reuse_actors is True


def test_gpu_trials_get_fractional_gpus_and_reuse_workers_too(tmp_path):
    _, spec = spec_of(tmp_path, "resources.gpu=0.25")
    assert spec.resources["gpu"] == 0.25
    assert spec.tune_config.reuse_actors is True


def test_the_experiment_is_stored_where_tuner_restore_finds_it(built, tmp_path):
    _, spec = built
    run_config = spec.run_config
    assert run_config.name == "smoke-test" and run_config.storage_path == str(tmp_path.resolve())
    assert run_config.checkpoint_config.checkpoint_at_end is False


def test_no_scheduler_means_fifo(tmp_path):
    _, spec = spec_of(tmp_path, "scheduler.type=none")
    assert type(spec.tune_config.scheduler) is FIFOScheduler
