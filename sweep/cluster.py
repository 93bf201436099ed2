"""Connecting to Ray: an existing cluster when one is named, else a Ray started in this process."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import ray

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def start_ray(address: str | None = None) -> None:
    """Connect to ``address`` (or ``RAY_ADDRESS``, set by ``ray job submit``); else start Ray locally.

    A local Ray starts no dashboard. Its workers import the training stack as they start (see
    ``trainables.quiet.warm_worker``), overlapping that cost with the driver's set-up.
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        # The job's own runtime environment (working_dir, pip) is kept as submitted.
        ray.init(address=address, logging_level=logging.WARNING)
        return
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
    ray.init(
        include_dashboard=False,
        logging_level=logging.WARNING,
        runtime_env={
            # The setup hook runs before Ray adds the driver's folder to sys.path; make the project importable.
            "env_vars": {"PYTHONPATH": path, "TQDM_DISABLE": "1"},
            "worker_process_setup_hook": "trainables.quiet.warm_worker",
        },
    )
