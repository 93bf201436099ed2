"""Tuner wiring, checked by inspecting what the Tuner was built with, without calling fit()."""

from __future__ import annotations

import pytest
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

from sweep.config import load_config
from sweep.experiment import prepare
from sweep.storage import Folder
from sweep.tuner import build_tuner
from trainables.metrics import MODE, OBJECTIVE

from .conftest import SMOKE


@pytest.fixture
def built(tmp_path):
    prepared = prepare(load_config(SMOKE, [f"results_dir={tmp_path}"]))
    tuner = build_tuner(prepared.config, prepared.data, prepared.plan, Folder(tmp_path / "smoke-test"))
    return prepared, tuner._local_tuner


def test_search_is_seeded_optuna_behind_a_concurrency_limit(built):
    prepared, tuner = built
    tune_config = tuner._tune_config
    searcher = tune_config.search_alg
    assert isinstance(searcher, ConcurrencyLimiter) and searcher.max_concurrent == 2
    assert isinstance(searcher.searcher, OptunaSearch)
    sampler = searcher.searcher._sampler
    assert type(sampler).__name__ == "TPESampler" and sampler._n_startup_trials == 4
    # The searcher and the scheduler carry the metric; the TuneConfig names none, or Tune would refuse both.
    assert (searcher.searcher.metric, searcher.searcher.mode) == (OBJECTIVE, MODE)
    assert (tune_config.scheduler.metric, tune_config.scheduler._mode) == (OBJECTIVE, MODE)
    assert tune_config.metric is None
    assert tune_config.num_samples == prepared.config.search.num_samples


def test_the_reference_defaults_are_the_first_point(built):
    _, tuner = built
    searcher = tuner._tune_config.search_alg.searcher
    assert searcher._points_to_evaluate == [
        {
            "kl_temperature": 0.3,
            "last_layer_weight": 1.0,
            "prior_layers_weight": 1.0,
            "n_layers_per_step": 1,
            "layer_weighting": "uniform",
            "learning_rate": 1e-3,  # a trainer knob's reference value is the train section's
        }
    ]


def test_asha_counts_evaluations_and_spans_a_full_run(built):
    prepared, tuner = built
    scheduler = tuner._tune_config.scheduler
    assert isinstance(scheduler, ASHAScheduler)
    assert scheduler._time_attr == "training_iteration"
    # 400 triplets / batch 32 = 13 steps in one epoch, an evaluation every 4 steps and at the last
    assert scheduler._max_t == prepared.plan.max_evaluations == 4
    # grace period 1, reduction factor 2: rungs after 1, 2 and 4 (= max_t) evaluations
    assert [milestone for milestone, _ in scheduler._brackets[0]._rungs] == [4, 2, 1]


def test_trials_get_the_configured_resources_and_reuse_workers(built):
    _, tuner = built
    trainable = tuner._trainable
    resources = trainable._resources.required_resources
    assert resources.get("CPU") == 1 and resources.get("GPU", 0) == 0
    assert tuner._tune_config.reuse_actors is True


def test_gpu_trials_get_fractional_gpus_and_reuse_workers_too(tmp_path):
    prepared = prepare(load_config(SMOKE, ["resources.gpu=0.25", f"results_dir={tmp_path}"]))
    tuner = build_tuner(prepared.config, prepared.data, prepared.plan, Folder(tmp_path / "x"))._local_tuner
    assert tuner._trainable._resources.required_resources.get("GPU") == 0.25
    assert tuner._tune_config.reuse_actors is True


def test_the_experiment_is_stored_where_tuner_restore_finds_it(built, tmp_path):
    _, tuner = built
    run_config = tuner._run_config
    assert run_config.name == "smoke-test" and run_config.storage_path == str(tmp_path.resolve())
    assert run_config.checkpoint_config.checkpoint_at_end is False


def test_no_scheduler_means_fifo(tmp_path):
    prepared = prepare(load_config(SMOKE, ["scheduler.type=none", f"results_dir={tmp_path}"]))
    tuner = build_tuner(prepared.config, prepared.data, prepared.plan, Folder(tmp_path / "x"))._local_tuner
    assert type(tuner._tune_config.scheduler) is FIFOScheduler
