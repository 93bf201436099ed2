"""Retrain: the best config and the reference defaults, full budget, every seed, scored on STS-test.

Each run is a Ray task with the trial's resources, so on a cluster it lands on a GPU node; the model
to keep travels back as file contents, so no shared filesystem is needed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import ray

from sweep.config import ExperimentConfig
from trainables.data import StsPairs, TrialData
from trainables.model import ModelConfig
from trainables.train_config import TrainConfig

RETRAIN_FILE = "retrain.json"
MODEL_DIR = "best_model"


def retrain_one(
    params: dict[str, Any],
    seed: int,
    data: TrialData,
    sts_test: StsPairs,
    settings: TrainConfig,
    model_config: ModelConfig,
    threads: int,
    keep_model: bool,
) -> dict[str, Any]:
    """Train ``params`` with ``seed`` on the full budget; STS-test at full depth and every depth."""
    # Imported in the worker only, as for the sweep's trainable.
    from trainables.training import start_worker_run, train_and_test

    start_worker_run(threads)
    # Evaluate STS-dev only once, at the last step: the retrain is not pruned, so nothing reads earlier rows.
    settings = settings.model_copy(update={"eval_steps": 10**9})
    model, history, test = train_and_test(params, data, sts_test, settings, model_config, seed)
    result = {
        "seed": seed,
        "test": test["full"],
        "test_per_depth": test["per_depth"],
        "sts_dev_final": history[-1]["sts_dev_spearman_cosine"] if history else None,
        "steps": history[-1]["step"] if history else 0,
        "files": None,
    }
    if keep_model:
        with tempfile.TemporaryDirectory(prefix="best-model-") as folder:
            model.save(folder)
            result["files"] = {
                str(p.relative_to(folder)): p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()
            }
    return result


def retrain(
    config: ExperimentConfig,
    data: TrialData,
    sts_test: StsPairs,
    best: dict[str, Any],
    default: dict[str, Any],
) -> dict[str, Any]:
    """Run every (config, seed) retrain as Ray tasks; the first seed's best model comes back as files.

    Returns ``{"best": [per-seed results], "default": [per-seed results] or None, "model_files": {...}}``.
    When the best config is the reference defaults, the default runs are the same runs and are reused.
    """
    task = ray.remote(retrain_one).options(num_cpus=config.resources.cpu, num_gpus=config.resources.gpu, max_retries=0)
    shared = (ray.put(data), ray.put(sts_test), config.train, config.model, config.resources.threads)
    seeds = config.retrain.seeds
    best_refs = [task.remote(best, seed, *shared, keep_model=(i == 0)) for i, seed in enumerate(seeds)]
    same = best == default
    default_refs = (
        [task.remote(default, seed, *shared, keep_model=False) for seed in seeds]
        if config.retrain.defaults and not same
        else []
    )
    best_runs = ray.get(best_refs)
    default_runs = ray.get(default_refs) if default_refs else (best_runs if config.retrain.defaults else None)
    model_files = best_runs[0].pop("files")
    for run in best_runs + (default_runs or []):
        run.pop("files", None)
    return {"best": best_runs, "default": default_runs, "default_is_best": same, "model_files": model_files}
