"""The Ray Tune function trainable: one adaptive-layer training run reporting STS-dev every N steps."""

from __future__ import annotations

import time
from typing import Any

from trainables.data import TrialData
from trainables.model import ModelConfig
from trainables.plateau import Plateau
from trainables.train_config import TrainConfig


def adaptive_layer_trainable(
    config: dict[str, Any],
    data: TrialData,
    settings: TrainConfig,
    model_config: ModelConfig,
    threads: int,
    plateau: Plateau | None = None,
) -> None:
    """Train ``config`` (loss values and trainer knobs) and ``tune.report`` each STS-dev evaluation.

    ``data`` arrives through ``tune.with_parameters``, so the driver loads it once for all trials. With
    a ``plateau`` the trial ends itself once its STS-dev stops improving (``scheduler.patience``).
    """
    started_at = time.time()  # before the imports below, which are a cold worker's first cost
    # Imported in the worker only: the driver that schedules this function never trains.
    from ray import tune

    from trainables import training
    from trainables.hold import TRIAL, held

    training.start_worker_run(threads)
    training.train(
        config,
        data,
        settings,
        model_config,
        seed=settings.seed,
        report=held(tune.report, TRIAL),
        started_at=started_at,
        plateau=plateau,
    )
