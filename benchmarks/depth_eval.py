"""3. All-depth evaluation: STS-dev at every depth from one pass vs one full-depth evaluation.

Three ways to score STS-dev, each timed three times (interleaved) on the model as a trial loads it,
with a trial's thread count: the sweep's ``evaluate_sts`` (all depths from one forward pass), one
full-depth pass over the same sentences (``model.encode``, plus the same correlations), and the
naive per-depth way (the encoder cut to 1..L layers, one evaluation each). The library's
``EmbeddingSimilarityEvaluator`` is timed as a second full-depth reference.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from benchmarks.recipe import recipe
from benchmarks.record import Outcome
from benchmarks.session import Session

TARGET = 1.2
REPEATS = 3


def full_depth_once(model, pairs, batch_size: int) -> float:
    """spearman_cosine at full depth from one ``model.encode`` of the unique sentences."""
    from trainables.evaluation import correlation_metrics

    unique = list(dict.fromkeys(pairs.sentences1 + pairs.sentences2))
    position = {sentence: i for i, sentence in enumerate(unique)}
    embeddings = model.encode(unique, batch_size=batch_size, convert_to_numpy=True)
    left = embeddings[[position[s] for s in pairs.sentences1]]
    right = embeddings[[position[s] for s in pairs.sentences2]]
    return correlation_metrics(left, right, pairs.scores)["spearman_cosine"]


def per_depth_naive(model, pairs, batch_size: int) -> list[float]:
    """spearman_cosine at each depth from L evaluations of the encoder cut to 1..L layers."""
    import torch

    from trainables.model import encoder

    stack = encoder(model).encoder
    layers = stack.layer
    scores = []
    try:
        for depth in range(1, len(layers) + 1):
            stack.layer = torch.nn.ModuleList(list(layers)[:depth])
            scores.append(full_depth_once(model, pairs, batch_size))
    finally:
        stack.layer = layers
    return scores


def library_evaluator(model, pairs, batch_size: int) -> float:
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    evaluator = EmbeddingSimilarityEvaluator(pairs.sentences1, pairs.sentences2, pairs.scores, batch_size=batch_size)
    return evaluator(model)[evaluator.primary_metric]


def run(session: Session) -> Outcome:
    import torch

    from sweep.workflow.commands import prepare
    from trainables.evaluation import evaluate_sts
    from trainables.model import build_model

    config = recipe(session.quick)
    prepared = prepare(config)
    torch.set_num_threads(config.resources.threads)
    model = build_model(config.model, device="cpu")
    pairs, batch = prepared.data.sts_dev, config.train.eval_batch_size
    ways: dict[str, Callable] = {
        "all depths, one pass (sweep)": lambda: evaluate_sts(model, pairs, batch),
        "full depth, one pass": lambda: full_depth_once(model, pairs, batch),
        "EmbeddingSimilarityEvaluator": lambda: library_evaluator(model, pairs, batch),
        "all depths, naive (L cut models)": lambda: per_depth_naive(model, pairs, batch),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    values: dict[str, Any] = {}
    for _ in range(REPEATS):
        for name, way in ways.items():
            began = time.perf_counter()
            values[name] = way()
            times[name].append(time.perf_counter() - began)
    median = {name: statistics.median(seconds) for name, seconds in times.items()}
    one = median["full depth, one pass"]
    table = pd.DataFrame(
        [{"way": name, "median_s": median[name], "vs_one_full_pass": median[name] / one} for name in ways]
    )
    ours = values["all depths, one pass (sweep)"]
    naive = values["all depths, naive (L cut models)"]
    agreement = max(abs(a - b) for a, b in zip(ours["per_depth"], naive, strict=True))
    ratio = median["all depths, one pass (sweep)"] / one
    return Outcome(
        name="3. all-depth evaluation",
        table=table,
        measured=(
            f"all depths / one full-depth pass {ratio:.2f}× "
            f"(naive {median['all depths, naive (L cut models)'] / one:.2f}×; {len(pairs.scores)} pairs, "
            f"{len(naive)} depths; per-depth scores agree with the naive way within {agreement:.1e})"
        ),
        target=f"≤ {TARGET}×",
        met=ratio <= TARGET,
    )
