"""The training function on the tiny model: it learns, reports every N steps, and is reproducible."""

from __future__ import annotations

import itertools
import json
import math
import pickle
import shutil

import pytest

from trainables.metrics import TIMING_COLUMNS, depth_metric
from trainables.model import TINY_VOCAB, ModelConfig, TinyModel, build_model
from trainables.plateau import Plateau
from trainables.train_config import TrainConfig
from trainables.training import train

from .conftest import first_without_new_best

SETTINGS = TrainConfig(batch_size=32, epochs=2, learning_rate=1e-3, eval_steps=5)
MODEL = ModelConfig(tiny=TinyModel(), max_seq_length=32)


@pytest.fixture(scope="module")
def run(smoke_data):
    rows = []
    model, history = train({}, smoke_data[0], SETTINGS, MODEL, seed=12, report=rows.append)
    return model, history, rows


def test_reports_every_n_steps_and_at_the_last_step(run):
    _, history, rows = run
    assert rows == history
    assert [row["step"] for row in rows] == [5, 10, 15, 20, 25, 26]
    assert [row["completed"] for row in rows] == [False] * 5 + [True]
    assert all(row["total_steps"] == 26 for row in rows)


def test_loss_decreases_and_sts_dev_is_finite_at_every_depth(run):
    _, history, _ = run
    losses = [row["loss"] for row in history]
    assert losses[-1] < losses[0] * 0.8, losses
    for row in history:
        values = [row["sts_dev_spearman_cosine"]] + [row[f"sts_dev_spearman_cosine_depth_{d}"] for d in range(1, 5)]
        assert all(math.isfinite(v) and -1 <= v <= 1 for v in values)
        assert row["sts_dev_spearman_cosine"] == row["sts_dev_spearman_cosine_depth_4"]


def test_training_improves_sts_dev_over_the_random_model(run, smoke_data):
    from trainables.evaluation import evaluate_sts
    from trainables.model import build_model

    untrained = evaluate_sts(build_model(MODEL, device="cpu"), smoke_data[0].sts_dev)["full"]["spearman_cosine"]
    _, history, _ = run
    assert history[-1]["sts_dev_spearman_cosine"] > untrained + 0.03


def test_the_same_seed_gives_the_same_run(run, smoke_data):
    short = SETTINGS.model_copy(update={"max_steps": 5})
    _, first = train({"kl_temperature": 0.5}, smoke_data[0], short, MODEL, seed=3)
    _, second = train({"kl_temperature": 0.5}, smoke_data[0], short, MODEL, seed=3)
    assert [without_timing(row) for row in first] == [without_timing(row) for row in second]


def test_rows_say_where_the_time_went(run):
    _, history, _ = run
    first, last = history[0], history[-1]
    assert first["run_started_at"] < first["first_step_at"] < first["reported_at"]
    assert len({row["first_step_at"] for row in history}) == 1
    for earlier, later in itertools.pairwise(history):
        assert later["step_time_s"] > earlier["step_time_s"] and later["eval_time_s"] > earlier["eval_time_s"]
    # Steps and evaluations fit inside the run's wall time.
    wall = last["reported_at"] - last["run_started_at"]
    assert 0 < last["step_time_s"] + last["eval_time_s"] < wall


def without_timing(row):
    return {key: value for key, value in row.items() if key not in TIMING_COLUMNS}


def test_with_patience_a_run_ends_at_its_first_evaluation_without_a_new_best_and_counts_as_completed(run, smoke_data):
    _, full_rows, _ = run
    metric = depth_metric(3)  # on this run, full depth rises to the last step, depth 3 does not
    stop = first_without_new_best([row[metric] for row in full_rows])
    assert stop is not None and stop < len(full_rows) - 1, [row[metric] for row in full_rows]

    reported = []
    _, history = train({}, smoke_data[0], SETTINGS, MODEL, seed=12, report=reported.append, plateau=Plateau(metric, 1))
    assert reported == history
    expected = [without_timing(row) for row in full_rows[: stop + 1]]
    expected[-1]["completed"] = True
    assert [without_timing(row) for row in history] == expected
    assert history[-1]["step"] < history[-1]["total_steps"] == full_rows[-1]["total_steps"]


def test_loss_parameters_reach_adaptive_layer_loss(tiny_model):
    from trainables.loss import build_loss

    loss = build_loss(tiny_model, {"kl_temperature": 0.7, "n_layers_per_step": -1, "layer_weighting": "log"})
    assert (loss.kl_temperature, loss.n_layers_per_step, loss.layer_weighting) == (0.7, -1, "log")
    assert (loss.last_layer_weight, loss.prior_layers_weight, loss.kl_div_weight) == (1.0, 1.0, 1.0)
    assert type(loss.loss).__name__ == "MultipleNegativesRankingLoss"


def test_a_trial_stopped_by_tune_leaves_no_model_to_the_next_trial_on_its_worker(smoke_data, monkeypatch):
    """Tune stops a trial by raising SystemExit from ``tune.report``, then reuses the worker."""
    import gc

    from ray import tune
    from sentence_transformers import SentenceTransformer

    from trainables import training
    from trainables.adaptive_layer import adaptive_layer_trainable

    def stop(row):
        raise SystemExit(0)

    def models_alive():  # by type, not isinstance: that would touch deprecated torch objects
        return sum(SentenceTransformer in type(thing).__mro__ for thing in gc.get_objects())

    left_to_next = []

    def next_trial(*args, **kwargs):
        left_to_next.append(models_alive())

    monkeypatch.setattr(tune, "report", stop)
    gc.collect()
    gc.disable()  # only the trainable's own collection may free the stopped run's cycles
    try:
        try:
            adaptive_layer_trainable({}, smoke_data[0], SETTINGS, MODEL, threads=1)
        except SystemExit:
            pass
        else:
            pytest.fail("the stop did not end the run")
        stopped_run_left = models_alive()
        monkeypatch.setattr(training, "train", next_trial)
        adaptive_layer_trainable({}, smoke_data[0], SETTINGS, MODEL, threads=1)
    finally:
        gc.enable()
    assert stopped_run_left >= 1  # the stopped run's model outlives it in a cycle
    assert left_to_next == [stopped_run_left - 1]


def test_the_tiny_models_vocabulary_travels_with_its_config(tmp_path):
    """A trial on a node without the driver's files builds the same model from the config it received."""
    vocab = tmp_path / "vocab.txt"
    shutil.copy(TINY_VOCAB, vocab)
    config = ModelConfig(tiny=TinyModel(vocab=str(vocab))).resolved()
    payload = pickle.dumps(config)
    vocab.unlink()
    model = build_model(pickle.loads(payload))
    assert len(model.tokenizer) == len(TINY_VOCAB.read_text().splitlines())
    assert "[UNK]" not in model.tokenizer.tokenize("the man is playing")
    assert config.model_dump()["tiny"]["vocab"] == str(vocab)  # the text itself is never written out
    assert "[UNK]" not in json.dumps(config.model_dump())
