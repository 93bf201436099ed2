"""Connecting to Ray: an existing cluster when one is named, else a Ray started in this process."""

from __future__ import annotations

import logging
import os

import ray


def start_ray(address: str | None = None) -> None:
    """Connect to ``address`` (or ``RAY_ADDRESS``, set by ``ray job submit``); else start Ray locally.

    A local Ray starts no dashboard.
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        # The job's own runtime environment (working_dir, pip) is kept as submitted.
        ray.init(address=address, logging_level=logging.WARNING)
        return
    ray.init(
        include_dashboard=False,
        logging_level=logging.WARNING,
        # Read by tqdm at import, before a trial can silence it: the model card's progress bars.
        runtime_env={"env_vars": {"TQDM_DISABLE": "1"}},
    )
