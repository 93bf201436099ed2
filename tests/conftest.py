"""Shared fixtures: one Ray for the session, one tiny model, the smoke recipe and its data."""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "search_spaces" / "smoke.yaml"
SMOKE_DATA = ROOT / "data" / "smoke"


# The fixtures that run the shared smoke sweep: every module that uses one runs on the same test worker.
SMOKE_FIXTURES = re.compile(r"\bsmoke_(run|experiment|home)\b")
# Groups whose own fixtures start sweeps and servers (a minute or more each), started first so that the
# two workers end together; the longest chain, the smoke sweep and what reads it, leads.
LONG_FIRST = (
    "smoke",
    "test_cluster",
    "test_multinode",
    "test_interruptions",
    "test_tracking",
    "test_secrets",
    "test_faults",
)


@functools.cache
def test_group(module_path: str) -> str:
    """The group a test module runs in, on one test worker: ``smoke`` for a module that uses the shared
    smoke sweep (read from its source: the scheduler sees test ids, not fixtures), else the module itself."""
    source = (ROOT / module_path).read_text(encoding="utf-8")
    return "smoke" if SMOKE_FIXTURES.search(source) else Path(module_path).stem


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scheduler, one group at a time to a worker (its own ``loadgroup`` names no group under
    pytest 9), so that a session or module fixture runs once."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return test_group(nodeid.split("::", 1)[0])

    return ByGroup(config, log)


def pytest_collection_modifyitems(config, items):
    """The long groups first (pytest-xdist hands out groups in the order of collection)."""

    def rank(item) -> int:
        name = test_group(item.nodeid.split("::", 1)[0])
        return LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)  # stable: within a group, the order of collection


# A line the session's Ray relays from one of its processes: "(name pid=N)", "(name pid=N, ip=...)",
# "(raylet)" or "(autoscaler ...)", coloured or not, then what that process printed.
RAY_RELAYED = re.compile(r"^(?:\x1b\[[\d;]*m)?\((?:[^()\n]* pid=\d+|raylet|autoscaler)[^()\n]*\).*\n?", re.MULTILINE)


def own_output(capsys):
    """What the command under test printed, without the lines the session's Ray relays from its workers: a
    worker Ray retires can print as it exits, into whichever test is capturing on that test worker."""
    captured = capsys.readouterr()
    return type(captured)(RAY_RELAYED.sub("", captured.out), RAY_RELAYED.sub("", captured.err))


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    """Recipes use paths relative to the repository root, as the README runs them."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for every test that needs it, started the way `sweep run` starts it."""
    import ray

    from sweep.runtime.cluster import start_ray

    start_ray()
    yield
    ray.shutdown()


def smoke_in_process(results: Path, overrides: list[str]) -> Path:
    """`sweep run` of the smoke recipe with ``overrides``, in this process on the session's Ray; its folder."""
    from sweep.cli import main

    argv = ["run", str(SMOKE), "--results-dir", str(results)]
    assert main([*argv, *(f"--set={override}" for override in overrides)]) == 0
    (folder,) = results.iterdir()
    return folder


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


@dataclass(frozen=True)
class SmokeRun:
    """The smoke sweep as a user runs it: its folder, what it printed, and `sweep status` read mid-run."""

    folder: Path
    output: str  # stdout and stderr together, as a job's log holds them (not a terminal)
    live_status: dict | None  # `sweep status --json` while trials ran (running or done); None if never caught
    live_errors: list[str]  # what `sweep status` said when it failed on the live folder (once it was a sweep)


RAY_AUTH_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")


def user_env(home: Path) -> dict[str, str]:
    """This process's environment as a user's shell has it: a HOME of its own and no Ray authentication
    settings (the session's own local Ray sets RAY_AUTH_MODE in this process)."""
    env = {key: value for key, value in os.environ.items() if key not in RAY_AUTH_VARIABLES}
    return {**env, "HOME": str(home), "TQDM_DISABLE": "1"}


@pytest.fixture(scope="session")
def smoke_home(tmp_path_factory) -> Path:
    """The HOME the shared smoke run runs in, so that the Ray token its local Ray writes there is one this
    session made (tests/test_cluster_recipe.py goes on from it, as a user would after a local sweep)."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def smoke_run(ray_session, smoke_home, tmp_path_factory) -> SmokeRun:
    """One finished smoke sweep, `python -m sweep run` in a process of its own, shared by every test that
    reads its folder or its output; `sweep status --json` reads its folder while its trials run."""
    results = tmp_path_factory.mktemp("results")
    log = results.parent / f"{results.name}.log"
    with log.open("w") as output:
        sweep = subprocess.Popen(
            [sys.executable, "-m", "sweep", "run", str(SMOKE), "--results-dir", str(results)],
            cwd=ROOT,
            env=user_env(smoke_home),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        live, errors, asked = None, [], []
        while sweep.poll() is None:
            live = live or _status_while_trials_run(results, errors, asked)
            time.sleep(0.5)
    text = log.read_text()
    assert sweep.returncode == 0, text
    (folder,) = results.iterdir()
    return SmokeRun(folder, text, live, errors)


def _status_while_trials_run(results: Path, errors: list[str], asked: list[bool]) -> dict | None:
    """`sweep status --json` of the sweep in ``results`` once it has a running or finished trial."""
    folders = list(results.iterdir())
    if not folders:
        return None
    # Until Ray Tune writes its state no trial runs: asked once in that window, then only once it exists
    # (each `sweep status` is a process of its own, which the sweep beside it would wait for).
    started = any(folders[0].glob("experiment_state-*.json"))
    if not started and asked:
        return None
    asked.append(started)
    done = subprocess.run(
        [sys.executable, "-m", "sweep", "status", "--json", str(folders[0])], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        if "no config.yaml" not in done.stderr:  # else not a sweep yet: the driver has not written its config
            errors.append(done.stderr)
        return None
    status = json.loads(done.stdout)
    trials = status["trials"]
    started = trials["running"] + trials["completed"] + trials["pruned"] + trials["errored"]
    return status if status["state"] == "running" and trials["running"] and started else None


@pytest.fixture(scope="session")
def smoke_experiment(smoke_run) -> Path:
    """The folder of the finished smoke sweep."""
    return smoke_run.folder


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


def trial_state(trial_id: str, status: str, tag: int, error_file: str | None = None, failures: int = 0) -> list[str]:
    """One trial's entry of Ray's experiment_state JSON, written the way Ray writes it."""
    from sweep.config.search_space import reference_point
    from trainables.train_config import TrainConfig

    state = {
        "trial_id": trial_id,
        "status": status,
        "config": reference_point(TrainConfig()),
        "relative_logdir": f"trial_{trial_id}",
        "experiment_tag": f"{tag}_kl_temperature=0.3",
        "storage": {"_type": "CLOUDPICKLE_FALLBACK", "value": "80054e2e"},  # stays a string: never unpickled
    }
    runtime = {"num_failures": failures, "error_filename": error_file}
    return [json.dumps(state), json.dumps(runtime)]


def result_rows(folder, trial_id, steps, completed_at=None, total=12, scores=None):
    """A trial folder with the result.json rows Ray writes for one report per listed step."""
    path = folder / f"trial_{trial_id}"
    path.mkdir()
    scores = scores or [0.5 + s / 100 for s in steps]
    lines = [
        {
            "training_iteration": i,
            "step": s,
            "total_steps": total,
            "sts_dev_spearman_cosine": v,
            "completed": s == completed_at,
        }
        for i, (s, v) in enumerate(zip(steps, scores, strict=True), start=1)
    ]
    (path / "result.json").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def first_without_new_best(scores: list[float]) -> int | None:
    """Index of the first score that does not beat every score before it."""
    return next((i for i in range(1, len(scores)) if scores[i] <= max(scores[:i])), None)
