"""A Tune function trainable that replays a recorded learning curve instead of training: no model, no data.

Each trial reports the recorded rows of one curve, in order, with ``ray.tune.report``, after sleeping the
recorded seconds of that row divided by ``compress``. The curve is chosen by the trial's id (CRC-32 modulo
the number of curves): a fixed, even draw over the recorded trials that ignores the config the searcher
proposed, so the scores TPE and ASHA see are real scores of this recipe but not of that config. Kept
apart from ``benchmarks.ray_scale`` so that a worker imports only this (no pandas, no torch).
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from ray import tune

SLEPT = "replay_slept_s"  # on every row: the trial's seconds of sleep so far, reported rows only
CURVE = "replay_curve"  # on every row: which recorded curve the trial replays


def curve_of(trial_id: str, n_curves: int) -> int:
    """The recorded curve a trial replays."""
    return zlib.crc32(trial_id.encode()) % n_curves


def replay_trainable(config: dict[str, Any], curves: list[list[dict[str, Any]]], compress: float) -> None:
    """Report one recorded curve's rows; ``curves[i][k]`` holds row k's metrics and ``seconds``, the
    recorded time it took (its ``time_this_iter_s``)."""
    del config  # the proposed values only reach the folder (params.json) and the study
    started = time.time()
    index = curve_of(tune.get_context().get_trial_id(), len(curves))
    slept = 0.0
    for row in curves[index]:
        pause = row["seconds"] / compress
        time.sleep(pause)
        slept += pause
        metrics = {key: value for key, value in row.items() if key != "seconds"}
        # The timing columns the reader expects, measured here: start, and when this row is handed over.
        metrics.update(run_started_at=started, reported_at=time.time(), **{SLEPT: slept, CURVE: index})
        tune.report(metrics)
