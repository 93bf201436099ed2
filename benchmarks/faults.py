"""7. Faults: what a lost node and a driver killed during the retrain cost, in wall time and in work.

A Ray cluster on this machine (``ray.cluster_utils.Cluster``: a head with no CPU for trials and two
1-CPU worker nodes), the smoke recipe shrunk to 4 trials of about 40 steps, 2 at once, and a retrain
of the winner with 2 seeds, run as `sweep run --address` in its own process:

- ``no fault``, twice: the reference wall time, and how much two identical runs differ here;
- ``node lost``: the node of a trial that has reported is killed whole (SIGKILL: its raylet, agents
  and workers) and a new node joins; then the node of a running retrain run is killed;
- ``driver killed``: the driver and its process group get SIGKILL once the first retrain run is
  recorded, then `sweep resume` finishes the folder (wall time is both commands together).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.record import Outcome
from benchmarks.session import Session
from sweep.store.folder import ExperimentFolder
from tests.fault_injection import LOOPBACK, ROOT, SweepProcess, add_node, kill_node, reporting_trial, running
from trainables.internals import TUNE_CHECKPOINT_PERIOD_ENV, ray_address_file

TRIALS = 4
RETRAIN_SEEDS = (1, 2)
OVERRIDES = [
    f"search.num_samples={TRIALS}",
    "search.max_concurrent=2",
    "scheduler.type=none",
    "train.epochs=3",
    "failures.max_retries=2",
    f"retrain.seeds=[{', '.join(map(str, RETRAIN_SEEDS))}]",
    "retrain.defaults=false",
]
RETRAIN_RUNS = len(RETRAIN_SEEDS) + 1  # and the untrained model


def run(session: Session) -> Outcome:
    from ray.cluster_utils import Cluster

    os.environ.update(LOOPBACK)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
            for i in (1, 2):
                rows.append(_scenario(cluster, Path(tmp) / f"baseline{i}", "no fault", _no_fault))
            rows.append(_scenario(cluster, Path(tmp) / "node", "node lost (trial, then retrain)", _lose_nodes))
            rows.append(_scenario(cluster, Path(tmp) / "driver", "driver killed in retrain, resumed", _kill_driver))
    finally:
        cluster.shutdown()
        ray_address_file().unlink(missing_ok=True)
    table = pd.DataFrame(rows)
    baseline = table.loc[table["scenario"] == "no fault", "wall_s"]
    table["lost_s"] = (table["wall_s"] - baseline.mean()).round(1)
    noise = abs(baseline.iloc[0] - baseline.iloc[1])
    complete = bool((table["trials"] == TRIALS).all() and (table["retrain_runs"] == RETRAIN_RUNS).all())
    node, driver = table.iloc[2], table.iloc[3]
    return Outcome(
        name="faults",
        table=table,
        measured=(
            f"node lost: +{node['lost_s']:.0f} s, {node['trials_retried']} trial(s) and {node['retrain_rerun']} "
            f"retrain run(s) rerun; driver killed: +{driver['lost_s']:.0f} s, {driver['retrain_kept']} of "
            f"{RETRAIN_RUNS} retrain runs kept; two fault-free runs differ by {noise:.0f} s"
        ),
        target="every sweep completes with every trial counted once; only interrupted work is redone",
        met=complete,
        notes=[
            "one run per scenario on 2 shared cores: a lost time within the two fault-free runs' "
            "difference is no detectable cost",
        ],
    )


def _scenario(cluster, results: Path, name: str, fault) -> dict:
    for node in list(cluster.worker_nodes):
        cluster.remove_node(node)
    nodes = [add_node(cluster, 1), add_node(cluster, 1)]
    results.mkdir(parents=True)
    started = time.monotonic()
    driver = SweepProcess(
        results,
        "--address",
        cluster.address,
        overrides=OVERRIDES,
        env={**LOOPBACK, TUNE_CHECKPOINT_PERIOD_ENV: "1"},
    )
    try:
        facts = fault(cluster, nodes, driver, results)
        status, _ = driver.finish()
    finally:
        driver.stop()
    if facts.get("resume"):
        status = _resume(cluster, results)
    wall = time.monotonic() - started
    if status != 0:
        raise RuntimeError(f"{name}: the sweep failed ({status}):\n{driver.stderr[-3000:]}")
    (folder,) = results.iterdir()
    saved = ExperimentFolder(folder)
    trials = saved.saved_results()[0]
    retrained = saved.retrained().record
    return {
        "scenario": name,
        "wall_s": round(wall, 1),
        "nodes_killed": facts.get("nodes_killed", 0),
        "trials": int(trials["trial_id"].nunique()),
        "trials_retried": int((trials["attempts"] > 1).sum()),
        "retrain_runs": len(retrained["best"]) + 1,
        "retrain_kept": facts.get("retrain_kept", 0),
        "retrain_rerun": facts.get("retrain_rerun", 0),
    }


def _no_fault(cluster, nodes, driver, results) -> dict:
    return {}


def _lose_nodes(cluster, nodes, driver, results) -> dict:
    first, second = nodes
    driver.wait_for(
        lambda: running(first, "ray::ImplicitFunc") and running(second, "ray::ImplicitFunc"), "a trial on each node"
    )
    pids = {p.pid for p in running(first, "ray::ImplicitFunc")}
    driver.wait_for(lambda: reporting_trial(cluster, pids), "the first node's trial to report")
    kill_node(cluster, first)
    third = add_node(cluster, 1)
    target = driver.wait_for(
        lambda: next((n for n in (second, third) if running(n, "ray::retrain_one")), None), "a retrain run"
    )
    time.sleep(3)
    kill_node(cluster, target)
    return {"nodes_killed": 2, "retrain_rerun": 1}


def _kill_driver(cluster, nodes, driver, results) -> dict:
    records = lambda: sorted(results.glob("*/retrain_runs/*.json"))  # noqa: E731
    driver.wait_for(records, "a first retrain run")
    os.killpg(driver.process.pid, signal.SIGKILL)
    kept = len(records())
    return {"resume": True, "retrain_kept": kept, "retrain_rerun": RETRAIN_RUNS - kept}


def _resume(cluster, results: Path) -> int:
    (folder,) = results.iterdir()
    command = [sys.executable, "-m", "sweep", "resume", str(folder), "--address", cluster.address]
    return subprocess.run(command, cwd=ROOT, env={**os.environ, **LOOPBACK}, capture_output=True).returncode
