"""Machines that share nothing, on one machine: each Ray node and each driver gets its own home, datasets
and model caches, temporary folder and working directory, as pods or VMs of a real cluster do.

Every Python process of a node loads ``share_nothing/sitecustomize.py``, which records any file it opens
or maps under the driver's home, caches or temporary folder; ``forbidden_opens`` reads those records.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

WATCH = Path(__file__).resolve().parent / "share_nothing"
FORBIDDEN_ENV = "SWEEP_TEST_FORBIDDEN"
FORBIDDEN_LOG_ENV = "SWEEP_TEST_FORBIDDEN_LOG"


@dataclass(frozen=True)
class Machine:
    """One machine's private folders, under a short root in /tmp (Ray's socket paths must stay short)."""

    root: Path

    @classmethod
    def create(cls, name: str) -> Machine:
        machine = cls(Path(tempfile.mkdtemp(prefix=f"{name}-", dir="/tmp")))
        for folder in (machine.home, machine.cache, machine.tmp, machine.cwd, machine.ray):
            folder.mkdir()
        return machine

    home = property(lambda self: self.root / "home")
    cache = property(lambda self: self.root / "cache")  # datasets, hub models, torch
    tmp = property(lambda self: self.root / "tmp")
    cwd = property(lambda self: self.root / "cwd")
    ray = property(lambda self: self.root / "ray")  # a node's Ray temporary folder
    log = property(lambda self: self.root / "forbidden.log")

    def env(self, forbidden: tuple[Path, ...] = ()) -> dict[str, str]:
        """The variables that place everything this machine writes in its own folders; with ``forbidden``
        (folders of another machine), its processes record any file under them that they open."""
        env = {
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "XDG_CACHE_HOME": str(self.cache),
            "HF_HOME": str(self.cache / "huggingface"),
            "HF_DATASETS_CACHE": str(self.cache / "huggingface" / "datasets"),
            "TORCH_HOME": str(self.cache / "torch"),
            "SENTENCE_TRANSFORMERS_HOME": str(self.cache / "sentence_transformers"),
            "MPLCONFIGDIR": str(self.cache / "matplotlib"),
        }
        token = _ray_token()
        if token:  # the real home's token file is not on this machine: it is given the token, as nodes are
            env["RAY_AUTH_TOKEN"] = token
        if forbidden:
            env |= {
                "PYTHONPATH": str(WATCH),
                FORBIDDEN_ENV: os.pathsep.join(str(path) for path in forbidden),
                FORBIDDEN_LOG_ENV: str(self.log),
            }
        return env

    def forbidden_opens(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def watched(self) -> list[str]:
        """The processes that were watched: pid and command line."""
        path = Path(f"{self.log}.watched")
        return path.read_text().splitlines() if path.exists() else []

    def watched_ray_workers(self) -> int:
        """How many of Ray's worker processes (trials, tasks) ran here under watch."""
        return sum("default_worker.py" in line for line in self.watched())

    def remove_caches(self) -> None:
        """As a driver's machine goes on without its caches once the data is loaded."""
        shutil.rmtree(self.cache)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _ray_token() -> str | None:
    """The token the local Ray wrote (or was given), for machines whose home does not hold it."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return os.environ["RAY_AUTH_TOKEN"].strip()
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token").expanduser()
    return path.read_text().strip() if path.is_file() else None


def add_machine_node(cluster, cpus: int, machine: Machine, forbidden: tuple[Path, ...], extra_env: dict | None = None):
    """A worker node of a ``ray.cluster_utils.Cluster`` on ``machine``: its raylet, and so its workers, run
    with that machine's environment, temporary folder and working directory, watching ``forbidden``."""
    with contextlib.chdir(machine.cwd):  # the raylet starts here, and its workers with it
        return cluster.add_node(
            num_cpus=cpus,
            node_ip_address="127.0.0.1",
            include_dashboard=False,
            temp_dir=str(machine.ray),
            env_vars={**machine.env(forbidden), **(extra_env or {})},
        )


def start_worker_node(gcs_address: str, cpus: int, machine: Machine, env: dict[str, str]) -> subprocess.Popen:
    """A worker node joining the head at ``gcs_address``, as its own process group on ``machine`` (in its
    working directory, with ``env``); stop it with ``servers.stop_server``."""
    command = [sys.executable, str(WATCH / "worker_node.py"), gcs_address, str(cpus), str(machine.ray)]
    log = (machine.root / "node.log").open("w")
    return subprocess.Popen(
        command, cwd=machine.cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
