"""A cold start overlaps its two costliest parts, loading the model to check it and Ray's start, without
changing what bad input gets: its own one line, exit 2, and no Ray left running."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from sweep import experiment
from sweep.config import load_config
from trainables.errors import InputError

from .conftest import ROOT, SMOKE, user_env


def test_the_model_is_checked_while_ray_starts(monkeypatch):
    connecting = threading.Event()
    seen = {}

    def check_model(config, n_layers):
        # Returns only once Ray's start has begun: run one after the other, this would time out.
        seen["overlapped"] = connecting.wait(timeout=30)
        seen["thread"] = threading.current_thread()

    def connect():
        connecting.set()
        seen["connect_thread"] = threading.current_thread()

    monkeypatch.setattr(experiment, "check_model", check_model)
    prepared = experiment.prepare(load_config(SMOKE), connect=connect)
    assert seen["overlapped"] and prepared.plan.n_layers == 4
    assert seen["connect_thread"] is threading.main_thread() and seen["thread"] is not threading.main_thread()


def test_the_models_error_wins_over_the_connections(monkeypatch):
    def check_model(config, n_layers):
        raise InputError("model: the model's own complaint")

    def connect():
        raise InputError("--address 127.0.0.1:9: nothing answers")

    monkeypatch.setattr(experiment, "check_model", check_model)
    with pytest.raises(InputError, match="the model's own complaint"):
        experiment.prepare(load_config(SMOKE), connect=connect)


def test_a_ray_started_for_a_model_then_refused_is_shut_down_and_one_joined_before_is_left(monkeypatch):
    class FakeRay:
        def __init__(self, up):
            self.up, self.shut = up, False

        def is_initialized(self):
            return self.up

        def shutdown(self):
            self.shut, self.up = True, False

    def check_model(config, n_layers):
        raise InputError("model: refused")

    monkeypatch.setattr(experiment, "check_model", check_model)
    for up_before, shut in ((False, True), (True, False)):
        fake = FakeRay(up_before)
        monkeypatch.setattr(experiment, "ray", fake)
        with pytest.raises(InputError, match="refused"):
            experiment.prepare(load_config(SMOKE), connect=lambda fake=fake: setattr(fake, "up", True))
        assert fake.shut is shut


def test_bad_data_is_refused_before_anything_costly_starts(monkeypatch):
    def refuse(*args):
        raise AssertionError("reached the model or Ray")

    monkeypatch.setattr(experiment, "model_depth", refuse)
    with pytest.raises(InputError, match="data.train.source"):
        experiment.prepare(load_config(SMOKE, ["data.train.source=absent.jsonl"]), connect=refuse)


def test_a_model_refused_while_ray_starts_exits_2_with_its_line_and_stops_that_ray(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    sizes = {"num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 128}
    # No weights file: check_model refuses it, after the config's checks passed and Ray's start began.
    (model / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 100, **sizes}))
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths must fit
    results = tmp_path / "results"
    results.mkdir()
    env = {**user_env(tmp_path / "home"), "RAY_TMPDIR": str(ray_tmp)}
    command = [sys.executable, "-m", "sweep", "run", str(SMOKE), "--results-dir", str(results)]
    done = subprocess.run(
        [*command, "--set", f"model.name={model}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "has no weights file" in done.stderr, done.stderr
    assert list(results.iterdir()) == []
    assert any(ray_tmp.iterdir())  # Ray did start alongside the check
    left = subprocess.run(["pgrep", "-f", str(ray_tmp)], capture_output=True, text=True)
    assert left.stdout == "", f"Ray processes left running: {left.stdout}"
    shutil.rmtree(ray_tmp, ignore_errors=True)
