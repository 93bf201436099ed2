"""test_similarities.parquet: the STS-test cosine similarity of every pair at every depth for every retrain
run, as the retrain writes it and the verdict resamples it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sweep.config.arms import RUN_NAMES, UNTRAINED
from trainables.data import StsPairs


def similarity_frame(
    sts_test: StsPairs, runs: Mapping[str, list[dict[str, Any]]], untrained: dict[str, Any]
) -> pd.DataFrame:
    """STS-test cosine similarity of every pair at every depth for every run, long: ``run`` (the arm's run
    name: best, default, defaults_at_best_trainer, plain, untrained), ``seed`` (-1 for the untrained
    model), ``depth``, ``pair``, ``score`` (gold), ``cosine``. ``runs``: each trained arm's runs, by arm."""
    named = [(RUN_NAMES[arm], run["seed"], run["cosine"]) for arm, arm_runs in runs.items() for run in arm_runs]
    named.append((UNTRAINED, -1, untrained["cosine"]))
    gold = np.asarray(sts_test.scores, dtype=np.float64)
    parts = []
    for name, seed, cosine in named:
        depths, pairs = np.asarray(cosine).shape
        parts.append(
            pd.DataFrame(
                {
                    "run": name,
                    "seed": seed,
                    "depth": np.repeat(np.arange(1, depths + 1), pairs),
                    "pair": np.tile(np.arange(pairs), depths),
                    "score": np.tile(gold, depths),
                    "cosine": np.asarray(cosine, dtype=np.float64).ravel(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def similarity_arrays(frame: pd.DataFrame, run: str, seeds: list[int]) -> np.ndarray:
    """One run's similarities from ``similarity_frame`` as an array (seeds, depths, pairs), in ``seeds`` order."""
    part = frame[frame["run"] == run]
    return np.stack(
        [part[part["seed"] == seed].pivot(index="depth", columns="pair", values="cosine").to_numpy() for seed in seeds]
    )


def gold_scores(frame: pd.DataFrame) -> np.ndarray:
    """The STS-test pairs' gold scores, in pair order."""
    first = frame[(frame["run"] == UNTRAINED) & (frame["depth"] == 1)].sort_values("pair")
    return first["score"].to_numpy()
