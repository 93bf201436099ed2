"""STS evaluation at full depth and at every truncated depth, from one forward pass per batch.

AdaptiveLayerLoss trains every layer to produce a usable embedding, so quality at fewer layers is the
point. Running the model once per depth would cost L passes; instead the transformer returns all
hidden states and only the cheap modules after it (pooling, normalisation) run once per depth.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy.stats import ConstantInputWarning, pearsonr, spearmanr
from sentence_transformers import SentenceTransformer
from sentence_transformers.util.tensor import batch_to_device

from trainables.data import StsPairs
from trainables.metrics import METRIC_NAMES, SIMILARITIES
from trainables.model import encoder


@torch.inference_mode()
def embed_all_depths(model: SentenceTransformer, sentences: list[str], batch_size: int = 64) -> np.ndarray:
    """Embeddings after 1..L layers: an array of shape (L, len(sentences), dim).

    Depth L equals what ``model.encode`` returns. Depth d feeds the d-th layer's hidden states to the
    modules after the transformer, which is how AdaptiveLayerLoss forms its shallow embeddings.
    """
    transformer = model[0]
    tail = [model[i] for i in range(1, len(model))]
    hf_config = encoder(model).config
    was_training, had_hidden_states = model.training, hf_config.output_hidden_states
    order = np.argsort([-len(s) for s in sentences], kind="stable")  # similar lengths pad less
    out: np.ndarray | None = None
    model.eval()
    try:
        hf_config.output_hidden_states = True
        for start in range(0, len(sentences), batch_size):
            index = order[start : start + batch_size]
            features = batch_to_device(model.preprocess([sentences[i] for i in index]), model.device)
            features = transformer(features)
            hidden_states = features["all_layer_embeddings"][1:]  # [0] is the embedding layer
            for depth, hidden in enumerate(hidden_states):
                layer_features = {**features, "token_embeddings": hidden}
                for module in tail:
                    layer_features = module(layer_features)
                embedding = layer_features["sentence_embedding"].float().cpu().numpy()
                if out is None:
                    out = np.empty((len(hidden_states), len(sentences), embedding.shape[1]), np.float32)
                out[depth, index] = embedding
    finally:
        hf_config.output_hidden_states = had_hidden_states
        model.train(was_training)
    assert out is not None, "no sentences to embed"
    return out


def pair_similarities(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Row-wise similarity of two embedding matrices, higher = more similar, as in sentence-transformers."""
    dot = np.einsum("ij,ij->i", a, b, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1).astype(np.float64) * np.linalg.norm(b, axis=1)
    diff = a.astype(np.float64) - b
    return {
        "cosine": dot / np.maximum(norms, 1e-12),
        "manhattan": -np.abs(diff).sum(axis=1),
        "euclidean": -np.sqrt((diff**2).sum(axis=1)),
        "dot": dot,
    }


def correlation_metrics(a: np.ndarray, b: np.ndarray, gold: list[float]) -> dict[str, float]:
    """The model card's metric set: pearson and spearman for each similarity, and their max."""
    metrics: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)  # a constant prediction scores 0, see _finite
        for name, predicted in pair_similarities(a, b).items():
            metrics[f"pearson_{name}"] = _finite(pearsonr(gold, predicted)[0])
            metrics[f"spearman_{name}"] = _finite(spearmanr(gold, predicted)[0])
    metrics["pearson_max"] = max(metrics[f"pearson_{s}"] for s in SIMILARITIES)
    metrics["spearman_max"] = max(metrics[f"spearman_{s}"] for s in SIMILARITIES)
    return {key: metrics[key] for key in METRIC_NAMES}


def evaluate_sts(model: SentenceTransformer, pairs: StsPairs, batch_size: int = 64) -> dict:
    """Full-depth metrics and spearman_cosine at every depth.

    Returns ``{"full": {metric: value}, "per_depth": [spearman_cosine at depth 1, ..., L],
    "cosine": array (L, pairs)}``: the cosine similarity of every pair at every depth, which a paired
    comparison of two models resamples.
    """
    unique = list(dict.fromkeys(pairs.sentences1 + pairs.sentences2))
    position = {sentence: i for i, sentence in enumerate(unique)}
    left = [position[s] for s in pairs.sentences1]
    right = [position[s] for s in pairs.sentences2]
    embeddings = embed_all_depths(model, unique, batch_size)
    cosine = np.stack([pair_similarities(layer[left], layer[right])["cosine"] for layer in embeddings])
    per_depth = [_finite(spearmanr(pairs.scores, similarities)[0]) for similarities in cosine]
    full = correlation_metrics(embeddings[-1][left], embeddings[-1][right], pairs.scores)
    return {"full": full, "per_depth": per_depth, "cosine": cosine}


def _finite(value: float) -> float:
    """A constant prediction has no correlation; count it as 0 rather than NaN so rankings still work."""
    value = float(value)
    return value if np.isfinite(value) else 0.0
