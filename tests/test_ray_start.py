"""Starting the in-process Ray: on this machine only, and once more when a busy machine misses Ray's deadline."""

from __future__ import annotations

import inspect
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


def test_the_ray_internals_this_code_relies_on_are_still_there():
    """Some behaviours come from outside Ray's public API; if a Ray upgrade moves them, this says which."""
    from ray._private import ray_constants
    from ray.tune.search.optuna import OptunaSearch

    # sweep.runtime.cluster: a local Ray binds to 127.0.0.1 when it believes no other node may join.
    assert ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR == "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
    assert isinstance(ray_constants.ENABLE_RAY_CLUSTER, bool)
    # sweep.tuning.searcher: Tune hands the search space to OptunaSearch in set_search_properties, which creates
    # the study in the storage and under the name it was given (public arguments, replayed trials after).
    init = inspect.signature(OptunaSearch.__init__).parameters
    assert {"storage", "study_name", "points_to_evaluate", "sampler"} <= set(init)
    assert list(inspect.signature(OptunaSearch.set_search_properties).parameters)[:4] == [
        "self",
        "metric",
        "mode",
        "config",
    ]
    # sweep.tuning.searcher: the Optuna trial asked for each Tune trial, by Tune's trial id (no public getter).
    assert OptunaSearch()._ot_trials == {}
    # sweep.runtime.credentials: the set of variables Tune copies into each trainable's runtime environment, read
    # from the module each time it makes an actor class.
    from ray.tune.execution import class_cache

    assert isinstance(class_cache.ENV_VARS_TO_PROPAGATE, set)
    assert "in ENV_VARS_TO_PROPAGATE:" in inspect.getsource(class_cache._ActorClassCache.get)
    # sweep.runtime.upload: Ray's own walk over a working directory and its matching of excludes.
    from ray._private.runtime_env import packaging

    assert list(inspect.signature(packaging._dir_travel).parameters)[:4] == [
        "path",
        "excludes",
        "handler",
        "include_gitignore",
    ]
    assert list(inspect.signature(packaging._get_excludes).parameters) == ["path", "excludes"]


def test_a_local_ray_listens_on_this_machine_only(ray_session):
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
