"""Starting the in-process Ray: on this machine only, and once more when a busy machine misses Ray's deadline."""

from __future__ import annotations

import pytest
import ray

from sweep import cluster


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
