"""Shared fixtures: one Ray for the session, one tiny model, the smoke recipe and its data."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "search_spaces" / "smoke.yaml"
SMOKE_DATA = ROOT / "data" / "smoke"


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    """Recipes use paths relative to the repository root, as the README runs them."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for every test that needs it, started the way `sweep run` starts it."""
    import ray

    from sweep.cluster import start_ray

    start_ray()
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def _tiny_model():
    from trainables.model import ModelConfig, TinyModel, build_model
    from trainables.quiet import quiet_libraries

    quiet_libraries()
    return build_model(ModelConfig(tiny=TinyModel(), max_seq_length=32), device="cpu")


@pytest.fixture
def tiny_model(_tiny_model):
    """A fresh copy of the session's tiny model, so a test may train or change it."""
    return copy.deepcopy(_tiny_model)


@pytest.fixture(scope="session")
def smoke_data():
    from trainables.data import DataSource, TrialData, load_sts, load_triplets

    train = load_triplets(DataSource(source=str(SMOKE_DATA / "nli_train.jsonl")))
    dev = load_sts(DataSource(source=str(SMOKE_DATA / "sts_dev.jsonl")), "data.sts_dev")
    test = load_sts(DataSource(source=str(SMOKE_DATA / "sts_test.jsonl")), "data.sts_test")
    return TrialData(train, dev), test


@pytest.fixture(scope="session")
def smoke_experiment(ray_session, tmp_path_factory):
    """One finished smoke sweep through the command line, shared by every test that reads its folder."""
    from sweep.cli import main

    results = tmp_path_factory.mktemp("results")
    assert main(["run", str(SMOKE), "--results-dir", str(results)]) == 0
    (folder,) = results.iterdir()
    return folder


def ray_only_copy(experiment: Path, target: Path) -> Path:
    """The Ray Tune experiment of a finished sweep, without the files the driver writes after fit()."""
    keep = ("experiment_state-", "trial_", "config.yaml", "experiment.json", "tuner.pkl", "search")
    top = str(experiment)
    shutil.copytree(
        experiment,
        target,
        ignore=lambda where, names: [n for n in names if where == top and not n.startswith(keep)],
    )
    return target
