"""The peer side of benchmark `peer`: ``SentenceTransformerTrainer.hyperparameter_search``, as its
documentation shows it, on the sweep's model, data, steps, batch, evaluation cadence and threads.

``python -m benchmarks.peer_search CONFIG OUT LAUNCHED_AT`` runs in a fresh process, like a user's
script: Optuna backend, ``TPESampler`` with the sweep's seed, ``SuccessiveHalvingPruner`` at its
defaults, the loss at its defaults, ``EmbeddingSimilarityEvaluator`` at its defaults. It imports neither
Ray nor this project's driver; it reads the config file only for the figures both sides share, and
loads the data with the trials' own readers so both train on the same rows. OUT gets one JSON object:
the time from LAUNCHED_AT (the parent's ``time.time()`` before it started this process) to the search's
return, and every trial with its state, values, steps and timing.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainerCallback

from sweep.store import atomic
from trainables.data import DataSource, load_sts, load_triplets
from trainables.model import ModelConfig, resolve_folder
from trainables.step_clock import StepClock


def search(config_path: str, out_path: str, launched_at: float) -> dict[str, Any]:
    import optuna
    import torch
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
    from sentence_transformers.sentence_transformer.losses import AdaptiveLayerLoss, MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    raw = yaml.safe_load(Path(config_path).read_text())
    train, space, search_ = raw["train"], raw["search_space"], raw.get("search", {})
    torch.set_num_threads(int(raw.get("resources", {}).get("cpu", 1)))
    folder = resolve_folder(ModelConfig(**raw["model"]))
    dataset = load_triplets(DataSource(**raw["data"]["train"]))
    pairs = load_sts(DataSource(**raw["data"]["sts_dev"]), "data.sts_dev")
    evaluator = EmbeddingSimilarityEvaluator(pairs.sentences1, pairs.sentences2, pairs.scores, name="sts-dev")
    clock = TrialClocks()
    storage = optuna.storages.InMemoryStorage()  # kept here, so that every trial's fate can be read back

    def model_init() -> SentenceTransformer:
        return SentenceTransformer(folder, device="cpu")

    def hp_space(trial: optuna.Trial) -> dict[str, float]:
        lr_low, lr_high = space["learning_rate"]["loguniform"]
        warm_low, warm_high = space["warmup_ratio"]["uniform"]
        return {
            "learning_rate": trial.suggest_float("learning_rate", lr_low, lr_high, log=True),
            # transformers 5 reads a warmup_steps below 1 as a share of the steps (warmup_ratio is deprecated)
            "warmup_steps": trial.suggest_float("warmup_ratio", warm_low, warm_high),
        }

    def objective(metrics: dict[str, float]) -> float:
        return metrics["eval_sts-dev_spearman_cosine"]

    with tempfile.TemporaryDirectory(prefix="peer-") as output_dir:
        args = SentenceTransformerTrainingArguments(
            output_dir=output_dir,
            max_steps=int(train["max_steps"]),
            per_device_train_batch_size=int(train["batch_size"]),
            warmup_steps=0.0,  # a float, so that the searched share is not cast to an int
            eval_strategy="steps",
            eval_steps=int(train["eval_steps"]),
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=True,
        )
        trainer = SentenceTransformerTrainer(
            model_init=model_init,
            args=args,
            train_dataset=dataset,
            loss=lambda model: AdaptiveLayerLoss(model, MultipleNegativesRankingLoss(model)),
            evaluator=evaluator,
            callbacks=[clock],
        )
        started_search = time.time()
        best = trainer.hyperparameter_search(
            hp_space=hp_space,
            compute_objective=objective,
            n_trials=int(search_.get("num_samples", 20)),
            direction="maximize",
            backend="optuna",
            sampler=optuna.samplers.TPESampler(seed=int(search_.get("seed", 0))),
            pruner=optuna.pruners.SuccessiveHalvingPruner(),
            storage=storage,
            study_name="peer",
        )
        ended = time.time()
    assert not isinstance(best, list)  # one direction: one best run
    trials = []
    for frozen, run in zip(optuna.load_study(study_name="peer", storage=storage).trials, clock.runs, strict=True):
        trials.append(
            {
                "number": frozen.number,
                "state": frozen.state.name.lower(),
                "params": frozen.params,
                "value": frozen.value,
                "intermediate": {int(k): float(v) for k, v in frozen.intermediate_values.items()},
                "steps": max(frozen.intermediate_values, default=0),
                "started_at": frozen.datetime_start.timestamp() if frozen.datetime_start else None,
                "ended_at": frozen.datetime_complete.timestamp() if frozen.datetime_complete else None,
                "run_started_at": run.started_at,
                "first_step_at": run.first_step_at,
                "step_s": run.step_s,
                "eval_s": run.eval_s,
            }
        )
    result = {
        "launched_at": launched_at,
        "search_started_at": started_search,
        "ended_at": ended,
        "wall_s": ended - launched_at,
        "best": {"value": best.objective, "params": best.hyperparameters, "trial": best.run_id},
        "trials": trials,
    }
    atomic.write_text(out_path, json.dumps(result, indent=1))
    return result


class TrialClocks(TrainerCallback):
    """A ``StepClock`` per training run of the search, timing steps as the sweep's trials time them; an
    evaluation is timed from the end of the step before it to the Trainer's ``on_evaluate``."""

    def __init__(self) -> None:
        self.runs: list[StepClock] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.runs.append(StepClock())

    def on_step_begin(self, args, state, control, **kwargs):
        self.runs[-1].on_step_begin(args, state, control)

    def on_step_end(self, args, state, control, **kwargs):
        self.runs[-1].on_step_end(args, state, control)

    def on_evaluate(self, args, state, control, **kwargs):
        run = self.runs[-1]
        run.eval_s += time.time() - (run.last_step_at or time.time())


if __name__ == "__main__":
    search(sys.argv[1], sys.argv[2], float(sys.argv[3]))
