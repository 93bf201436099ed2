"""Cluster use, for real: a Ray head on 127.0.0.1 and a worker node, each on a machine of its own that
shares nothing with the other (``tests/nodes.py``: home, caches, temporary folder, working directory),
the smoke sweep sent with ``ray job submit`` (its driver runs on the head, its trials on the node), its
results in an S3 bucket served by a local S3-compatible server (moto), then a retrain of that bucket's
sweep sent with ``sweep retrain --address http://...``. The node records any file it opens of the head's
machine or of the checkout the job was sent from. Everything started here is stopped here."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from trainables.model import TINY_VOCAB

from .conftest import ROOT, SMOKE_DATA
from .nodes import Machine, start_worker_node
from .servers import NO_DRAIN, free_port, free_ports, stop_server, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]
BIN = Path(sys.executable).parent
BUCKET = "sweeps"


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 with one bucket; the variables that point pyarrow (and Ray) at it."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    server = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_for(endpoint)
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")).close()
        os.environ["SWEEP_TEST_MOTO_PID"] = str(server.pid)
        yield {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    finally:
        stop_server(server)


AGENT_PORTS = (
    "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port",
    "metrics-export-port",
    "runtime-env-agent-port",
)


@pytest.fixture(scope="module")
def ray_head(s3_env):
    """``ray start --head --dashboard-host 127.0.0.1`` with no CPUs, and one 2-CPU worker node joined to it,
    every server on 127.0.0.1; yields the job API URL, the head's environment, the head's and the node's
    pids, and the node's machine."""
    dashboard, gcs_port, client, *others = free_ports(3 + len(AGENT_PORTS))
    head_machine, node_machine = Machine.create("head"), Machine.create("node")
    common = {
        **s3_env,  # the nodes' own credentials for the bucket, as a cluster's nodes have theirs
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        # One machine, no other node may join: Ray then binds every server to 127.0.0.1.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "TQDM_DISABLE": "1",
        # Token authentication, with a token made for this test: the job API refuses anyone without it.
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        **NO_DRAIN,
    }
    env = {**os.environ, **head_machine.env(), **common}
    head = _start(
        head_machine,
        env,
        "--head",
        "--num-cpus=0",
        f"--port={gcs_port}",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--ray-client-server-port={client}",
        # Free ports for the agents too: a Ray already on this machine holds the defaults.
        *(f"--{option}={port}" for option, port in zip(AGENT_PORTS, others, strict=True)),
    )
    node = None
    try:
        url = f"http://127.0.0.1:{dashboard}"
        wait_for(f"{url}/api/version")
        forbidden = (head_machine.root, SMOKE_DATA, TINY_VOCAB.parent)
        node_env = {**os.environ, **node_machine.env(forbidden), **common}
        node = start_worker_node(f"127.0.0.1:{gcs_port}", 2, node_machine, node_env)
        _wait_for_cpus(env, gcs_port, 2)
        yield url, env, head.pid, node.pid, node_machine
    finally:
        if node is not None:
            stop_server(node)
        stop_server(head)
        head_machine.remove()
        node_machine.remove()


def _start(machine: Machine, env: dict, *options: str) -> subprocess.Popen:
    """``ray start --block`` on ``machine``: in its working directory, with its temporary folder."""
    command = [str(BIN / "ray"), "start", "--block", "--num-gpus=0", f"--temp-dir={machine.ray}", *options]
    log = (machine.root / "ray-start.log").open("w")
    return subprocess.Popen(
        command, cwd=machine.cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_for_cpus(env: dict, gcs_port: int, cpus: int, timeout: float = 120.0) -> None:
    """Until the cluster counts the node's CPUs: a job sent before would be refused for want of them."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = subprocess.run(
            [str(BIN / "ray"), "status", f"--address=127.0.0.1:{gcs_port}"],
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        if f"/{cpus}.0 CPU" in status:
            return
        time.sleep(1)
    raise AssertionError(f"the worker node did not join:\n{status}")


@pytest.fixture(scope="module")
def submitted(ray_head):
    url, env, *_ = ray_head
    command = [
        str(BIN / "ray"),
        "job",
        "submit",
        "--address",
        url,
        "--working-dir",
        ".",
        "--",
        "python",
        "-m",
        "sweep",
        "run",
        "search_spaces/smoke.yaml",
        "--set",
        "search.num_samples=3",
        "--set",
        "retrain.defaults=false",
        "--set",
        "retrain.seeds=[13]",
        "--set",
        "search.max_concurrent=1",  # one trial worker to start, not two
        "--results-dir",
        f"s3://{BUCKET}/smoke",
    ]
    for _ in range(20):  # a head that just started takes a while to register its job agent
        job = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=800)
        if "No available agent" not in job.stderr + job.stdout:
            return job
        time.sleep(3)
    return job


def _folder(env):
    from sweep.store.files import Folder

    for key, value in env.items():
        if key.startswith("AWS_"):
            os.environ[key] = value
    results = Folder(f"s3://{BUCKET}/smoke")
    (name,) = results.names()
    return results.child(name)


def test_ray_job_submit_runs_the_smoke_sweep_into_an_s3_bucket(submitted, ray_head):
    assert submitted.returncode == 0, submitted.stdout[-4000:] + submitted.stderr[-2000:]
    folder = _folder(ray_head[1])
    report = folder.read_json("report.json")
    assert report["trials"]["total"] == 3
    trials = folder.read_parquet("trials.parquet")
    assert len(trials) == 3 and set(trials["status"]) <= {"completed", "pruned"}
    # Ray Tune's own files landed in the bucket too: the sweep can be resumed from there.
    names = folder.names()
    assert any(name.startswith("experiment_state-") for name in names)
    assert sum(name.startswith("trial_") for name in names) == 3
    assert folder.is_file("best_model/model.safetensors")


def test_the_job_log_holds_the_progress_lines_and_sweep_status_reads_the_bucket(submitted, ray_head):
    env = ray_head[1]
    log = submitted.stdout
    assert "sweep: 3/3 done (" in log and "Trial status" not in log and "Token authentication" not in log
    folder = _folder(env)
    command = [sys.executable, "-m", "sweep", "status", "--json", str(folder)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    status, report = json.loads(done.stdout), folder.read_json("report.json")
    assert status["state"] == "finished" and status["location"] == str(folder)
    counts = ("total", "completed", "pruned", "errored")
    assert {key: status["trials"][key] for key in counts} == {key: report["trials"][key] for key in counts}
    assert status["best"]["trial_id"] == report["best"]["trial_id"]


def test_sweep_retrain_runs_on_the_cluster_through_the_job_api(submitted, ray_head):
    url, env, *_ = ray_head
    folder = _folder(env)
    before = folder.read_json("retrain.json")
    folder.fs.delete_dir(f"{folder.root}/retrain_runs")  # so that every run is retrained, on the cluster
    command = [sys.executable, "-m", "sweep", "retrain", str(folder), "--address", url]
    job = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stdout[-4000:] + job.stderr[-2000:]
    assert "SUCCEEDED" in job.stdout
    after = folder.read_json("retrain.json")
    # The same config and seed, retrained on the cluster, gives the same STS-test score.
    assert after["best"][0]["test"]["spearman_cosine"] == pytest.approx(before["best"][0]["test"]["spearman_cosine"])


def test_the_jobs_trials_ran_on_the_node_and_opened_nothing_of_the_heads_machine(submitted, ray_head):
    node = ray_head[4]
    assert node.watched_ray_workers()  # the trials and retrain runs were the node's: the head has no CPU
    assert node.forbidden_opens() == []


def test_every_server_started_here_listens_on_127_0_0_1_only(submitted, ray_head):
    import psutil

    started = [psutil.Process(pid) for pid in (ray_head[2], ray_head[3], int(os.environ["SWEEP_TEST_MOTO_PID"]))]
    ours = {p.pid for root in started for p in [root, *root.children(recursive=True)]}
    listening = [c for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.pid in ours]
    assert len(listening) >= 5  # GCS, raylet, dashboard, job API, S3 server at least
    exposed = [(c.laddr.ip, c.laddr.port, psutil.Process(c.pid).name()) for c in listening]
    exposed = [entry for entry in exposed if not _loopback(entry[0])]
    assert exposed == [], json.dumps(exposed)


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


def _job_driver(marker: str):
    """The process of a submitted job's driver: the command line with ``marker`` that Ray's job runs."""
    import psutil

    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if marker in cmdline and "-m" in cmdline and not any(Path(arg).name == "ray" for arg in cmdline[:2]):
            return process
    return None


def test_a_job_submitted_again_after_its_driver_died_finishes_the_same_sweep(submitted, ray_head):
    url, env, *_ = ray_head
    results = f"s3://{BUCKET}/resubmitted"
    command = [str(BIN / "ray"), "job", "submit", "--address", url, "--working-dir", ".", "--"]
    command += ["python", "-m", "sweep", "run", "search_spaces/smoke.yaml", "--results-dir", results]
    command += ["--set", "search.num_samples=4", "--set", "retrain.defaults=false", "--set", "retrain.seeds=[13]"]
    command += ["--set", "search.max_concurrent=1", "--resume-if-exists"]
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    from sweep.store.files import Folder

    try:
        # The driver dies (SIGKILL, as a lost head pod) once the bucket holds the sweep's state.
        deadline = time.monotonic() + 300
        while True:
            assert time.monotonic() < deadline and first.poll() is None, "the first job never got going"
            names = Folder(results).names()
            if names and any(n.startswith("experiment_state-") for n in Folder(results).child(names[0]).names()):
                break
            time.sleep(1)
        driver = _job_driver("--resume-if-exists")
        assert driver is not None
        driver.kill()
        first.wait(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    (name,) = Folder(results).names()
    assert not Folder(results).child(name).is_file("trials.parquet")
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=800)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert "holds an earlier run of this config; finishing it" in again.stdout + again.stderr
    assert Folder(results).names() == [name]  # the same folder, not a second sweep
    folder = Folder(results).child(name)
    trials = folder.read_parquet("trials.parquet")
    assert len(trials) == 4 and trials["trial_id"].is_unique
    assert len(folder.read_json("experiment.json")["resumed"]) == 1
    assert folder.read_json("report.json")["trials"]["total"] == 4
