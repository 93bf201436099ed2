"""Silence the libraries' progress bars and per-step log lines, which drown a sweep's own output."""

from __future__ import annotations

import logging
import os
import warnings

from trainables.internals import OPTUNA_OUT_OF_RANGE_WARNING, QUIET_ENVIRONMENT


def quiet_environment() -> None:
    """The environment half of ``quiet_libraries``: before a local Ray starts, whose workers inherit it."""
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def quiet_libraries() -> None:
    """Call once per process (driver and trial workers) before training."""
    quiet_environment()
    import datasets
    import transformers

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=OPTUNA_OUT_OF_RANGE_WARNING)
