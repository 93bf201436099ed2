"""Starting the in-process Ray: on this machine only, and once more when a busy machine misses Ray's deadline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest
import ray

from sweep.runtime import cluster

from .conftest import ROOT


def test_a_local_start_that_timed_out_is_tried_once_more(monkeypatch):
    calls = []

    def init(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise Exception("The current node timed out during startup. This could happen because ...")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: calls.append("shutdown"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cluster.start_ray()
    assert calls[1] == "shutdown" and len(calls) == 3
    assert calls[0] == calls[2] and calls[0]["address"] == "local" and calls[0]["include_dashboard"] is False


def test_any_other_start_failure_is_not_retried(monkeypatch):
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: (_ for _ in ()).throw(RuntimeError("no space left")))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(RuntimeError, match="no space left"):
        cluster.start_ray()


def test_workers_of_a_local_ray_start_with_progress_bars_off():
    # tqdm reads the switch when a worker imports it, before any trial code runs.
    code = (
        "import os, ray; from sweep.runtime.cluster import start_ray; start_ray(); "
        "print(ray.get(ray.remote(lambda: os.environ.get('TQDM_DISABLE')).remote())); ray.shutdown()"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("TQDM_DISABLE", "RAY_ADDRESS")}
    env["RAY_TMPDIR"] = temporary = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths
    try:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "1"


def test_a_local_ray_listens_on_this_machine_only(ray_session):
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
