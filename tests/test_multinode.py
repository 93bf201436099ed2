"""A real multi-node Ray cluster on this machine (Ray's own ``cluster_utils.Cluster``: a head and worker
nodes, each with its own raylet, every server on 127.0.0.1), driven by `sweep run --address` in its own
process as on a cluster. The driver and each worker node are machines that share nothing
(``tests/nodes.py``): their own home, caches, temporary folder and working directory; a node's processes
record any file they open of the driver's machine, of the bundled data or of the tiny model's vocabulary:

- trials run on more than one node at once; the node running a trial is killed mid-run (its raylet, its
  agents and its workers, SIGKILL) and the trial is retried on a node that survived; then the node
  running a retrain is killed and that retrain finishes on another node;
- the cluster grows while the sweep waits: a head with no CPUs, and a worker node that joins a few
  seconds after the sweep has started waiting for it (``cluster.autoscale``); without it, one line. The
  driver's caches are removed while it waits, once it has loaded the data: trials and retrain runs
  still train, from what they were sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from trainables.hold import HOLD_ENV, RETRAIN, TRIAL
from trainables.model import TINY_VOCAB

from .conftest import ROOT, SMOKE, SMOKE_DATA
from .fault_injection import LOOPBACK, SweepProcess, kill_node, reporting_trial, running
from .nodes import Machine, add_machine_node

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def machines():
    """Machines made for the module's nodes and drivers, removed at its end."""
    made: list[Machine] = []

    def make(name: str) -> Machine:
        made.append(Machine.create(name))
        return made[-1]

    yield make
    for machine in made:
        machine.remove()


@pytest.fixture(scope="module")
def cluster(ray_session, machines):
    """A head with no CPUs. It starts after the session's Ray, which turned Ray's token authentication on
    in this process: the nodes and the drivers inherit it, so every process of the cluster agrees on it.
    It stops before the machines of its nodes are removed, so that no node writes into them again."""
    from ray._private.utils import get_ray_address_file
    from ray.cluster_utils import Cluster

    os.environ.update(LOOPBACK)
    head = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    try:
        yield head
    finally:
        head.shutdown()
        # The Cluster writes this machine's cluster address; a later plain ray.init() would wait for it.
        Path(get_ray_address_file(None)).unlink(missing_ok=True)


class Driver(SweepProcess):
    """`sweep run ... --address` against the cluster, on ``machine``."""

    def __init__(self, cluster, machine: Machine, results: Path, *overrides: str):
        env = {**machine.env(), **LOOPBACK, "TUNE_GLOBAL_CHECKPOINT_S": "1"}
        super().__init__(results, "--address", cluster.address, overrides=list(overrides), env=env)
        self.machine = machine


def driver_files(driver: Machine) -> tuple[Path, ...]:
    """What a node must never open: the driver machine's folders, and the files only the driver reads."""
    return (driver.root, SMOKE_DATA, TINY_VOCAB.parent)


def _node(cluster, machines, driver: Machine, cpus: int, hold: Path | None = None):
    """A worker node on a machine of its own; its runs hold at the gates in ``hold`` where given."""
    machine = machines("node")
    extra = {HOLD_ENV: str(hold)} if hold is not None else {}
    node = add_machine_node(cluster, cpus, machine, driver_files(driver), extra)
    return node, machine


def forbidden_opens(nodes: list[Machine]) -> list[str]:
    """What the nodes opened of the driver's machine."""
    return [line for machine in nodes for line in machine.forbidden_opens()]


@pytest.fixture(scope="module")
def lost_nodes(cluster, machines, tmp_path_factory):
    """A sweep on two 1-CPU worker nodes that loses the node of a running trial, then the node of a
    running retrain; a third node joins between the two, so there is always one to go on with."""
    results = tmp_path_factory.mktemp("results")
    # Runs hold after each evaluation while their gate exists, so that each kill lands mid-run.
    hold = tmp_path_factory.mktemp("hold")
    (hold / TRIAL).touch()
    here = machines("driver")
    (first, first_machine), (second, second_machine) = (_node(cluster, machines, here, 1, hold) for _ in range(2))
    driver = Driver(
        cluster,
        here,
        results,
        "search.num_samples=4",
        "search.max_concurrent=2",
        "scheduler.type=none",
        "failures.max_retries=2",
        "retrain.seeds=[1, 2]",
        "retrain.defaults=false",
    )
    try:
        # Both nodes train a trial at once, each in its own worker.
        driver.wait_for(
            lambda: running(first, "ray::ImplicitFunc") and running(second, "ray::ImplicitFunc"),
            "a trial on each node",
        )
        folder = next(results.iterdir())
        pids = {p.pid for p in running(first, "ray::ImplicitFunc")}
        trial = driver.wait_for(lambda: reporting_trial(cluster, pids), "the first node's trial to report")
        kill_node(cluster, first)
        killed_at = time.monotonic()
        third, third_machine = _node(cluster, machines, here, 1, hold)
        (hold / RETRAIN).touch()  # before the trials go on: the retrain's runs hold in their turn
        (hold / TRIAL).unlink()
        # The retrain: kill the node of a running retrain run once it has started training.
        retrain_node = driver.wait_for(
            lambda: next((n for n in (second, third) if running(n, "ray::retrain_one")), None),
            "a retrain run on a node",
        )
        time.sleep(3)
        retrain_node_id = retrain_node.node_id
        kill_node(cluster, retrain_node)
        (hold / RETRAIN).unlink()
        status, _ = driver.finish()
    finally:
        driver.stop()
    assert status == 0, driver.stderr[-4000:]
    for node in list(cluster.worker_nodes):
        cluster.remove_node(node)
    cluster.wait_for_nodes()  # the head alone again, as its Ray sees it (a killed node takes a while to count)
    return {
        "folder": folder,
        "trial": trial,
        "killed_node": first.node_id,
        "nodes": {first.node_id, second.node_id},
        "retrain_node": retrain_node_id,
        "seconds_after_kill": time.monotonic() - killed_at,
        "forbidden_opens": forbidden_opens([first_machine, second_machine, third_machine]),
        "watched_workers": [m.watched_ray_workers() for m in (first_machine, second_machine)],
    }


def test_trials_ran_on_more_than_one_node(lost_nodes):
    folder = lost_nodes["folder"]
    nodes = set()
    for path in folder.glob("trial_*/result.json"):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        nodes |= {row["node_ip"] + ":" + str(row["pid"]) for row in rows}
    assert len(lost_nodes["nodes"]) == 2 and len(nodes) >= 2


def test_the_trial_of_the_lost_node_is_retried_and_counted_once(lost_nodes):
    folder, trial = lost_nodes["folder"], lost_nodes["trial"]
    trials = pd.read_parquet(folder / "trials.parquet").set_index("trial_id")
    assert len(trials) == 4 and trials.index.is_unique
    assert trials.loc[trial, "attempts"] == 2 and trials.loc[trial, "status"] == "completed"
    assert (trials["status"] == "completed").all()
    report = json.loads((folder / "report.json").read_text())
    assert report["trials"]["total"] == 4 and report["trials"]["errored"] == 0
    assert not list(folder.rglob(".*.tmp"))


def test_the_retrain_of_the_lost_node_finishes_on_another(lost_nodes):
    folder = lost_nodes["folder"]
    record = json.loads((folder / "retrain.json").read_text())
    assert [run["seed"] for run in record["best"]] == [1, 2]
    nodes = {run["node_id"] for run in record["best"]}
    assert lost_nodes["retrain_node"] not in nodes
    assert lost_nodes["killed_node"] not in nodes
    assert sorted(p.name for p in (folder / "retrain_runs").iterdir()) == [
        "best-seed1.json",
        "best-seed2.json",
        "untrained.json",
    ]
    assert (folder / "best_model" / "config.json").is_file()


def test_no_node_opened_a_file_of_the_drivers_machine(lost_nodes):
    assert all(lost_nodes["watched_workers"])  # the trials' workers were watched
    assert lost_nodes["forbidden_opens"] == []


def test_a_sweep_waits_for_a_node_that_joins_and_trains_after_the_drivers_caches_are_gone(cluster, machines, tmp_path):
    assert not cluster.worker_nodes  # the head alone, with no CPU for a trial
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "sweep",
            "run",
            str(SMOKE),
            "--results-dir",
            str(tmp_path / "refused"),
            "--address",
            cluster.address,
        ],
        env={**os.environ, **LOOPBACK},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "sweep: error: resources.cpu: 1 per trial, but the Ray cluster has 0 CPUs"
    )
    assert not (tmp_path / "refused").exists() or not list((tmp_path / "refused").iterdir())

    here = machines("driver")
    driver = Driver(
        cluster,
        here,
        tmp_path / "grown",
        "cluster.autoscale=true",
        "cluster.scale_up_timeout_s=300",
        "search.num_samples=2",
        "retrain.seeds=[1]",
        "retrain.defaults=false",
    )
    try:
        driver.wait_for(lambda: "waiting for the cluster to grow" in driver.stderr, "the wait to start")
        assert any(here.cache.rglob("*.arrow"))  # the data was read through the driver's datasets cache
        here.remove_caches()  # nothing a trial or a retrain run receives may depend on them
        time.sleep(3)
        _, joined_machine = _node(cluster, machines, here, 2)
        joined = time.monotonic()
        status, _ = driver.finish()
    finally:
        driver.stop()
    assert status == 0, driver.stderr[-3000:]
    assert "the cluster has room for a trial after" in driver.stderr
    (folder,) = (tmp_path / "grown").iterdir()
    report = json.loads((folder / "report.json").read_text())
    assert report["trials"]["total"] == 2 and report["trials"]["errored"] == 0
    assert len(report["test"]["per_seed"]) == 1  # the retrain ran on the node too
    assert time.monotonic() - joined < 300
    assert joined_machine.watched_ray_workers() and forbidden_opens([joined_machine]) == []


def test_a_cluster_that_does_not_grow_in_time_is_refused_in_one_line(ray_session):
    from sweep.runtime.cluster import check_resources
    from trainables.errors import InputError

    started = time.monotonic()
    with pytest.raises(InputError) as refused:
        check_resources(1, 1, 1, autoscale=True, timeout_s=2)
    assert str(refused.value).startswith("resources.gpu: 1 per trial, but the Ray cluster has 0 GPUs; ")
    assert str(refused.value).endswith("s for the cluster to grow)")
    assert 2 <= time.monotonic() - started < 10
