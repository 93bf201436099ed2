"""Servers the tests start on 127.0.0.1 (a Ray head, an S3 server, an MLflow server): free ports, waiting,
stopping."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

# A head sent SIGTERM first drains its node for up to 30 s (for Ray Serve's replicas, none here) before
# it stops; the heads the tests start stop at once.
NO_DRAIN = {"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}


def head_temp_dir() -> str:
    """A Ray head's own temporary folder. Heads on one machine must not share one: a job's supervisor
    finds its cluster through the address file there, and Ray's socket paths must stay short."""
    return tempfile.mkdtemp(prefix="ray-head-", dir="/tmp")


def head_options(temp_dir: str) -> tuple[int, list[str]]:
    """Options of `ray start --head` that put each of its servers on a free port of 127.0.0.1 (a Ray already
    on this machine holds the default ports) and its files in ``temp_dir``; with the job API's port."""
    dashboard, gcs, client, *others = free_ports(7)
    options = ["--block", "--num-cpus=2", "--num-gpus=0", f"--port={gcs}", "--dashboard-host=127.0.0.1"]
    options += [f"--dashboard-port={dashboard}", f"--ray-client-server-port={client}", f"--temp-dir={temp_dir}"]
    names = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port")
    names += ("runtime-env-agent-port",)
    options += [f"--{name}={port}" for name, port in zip(names, others, strict=True)]
    return dashboard, options


@contextlib.contextmanager
def ray_head(ray: Path, env: dict[str, str], log: Path) -> Iterator[tuple[str, str, int]]:
    """``ray start --head`` (the ``ray`` command given) with ``env``, on 127.0.0.1 only (one machine, no other
    node may join), its output in ``log``; yields the job API's URL, the head's own folder and its pid, and
    stops the head and removes its folder at the end."""
    temp_dir = head_temp_dir()
    dashboard, options = head_options(temp_dir)
    env = {**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", **NO_DRAIN}
    with log.open("w") as output:
        head = subprocess.Popen(
            [str(ray), "start", "--head", *options],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{dashboard}"
        wait_for(f"{url}/api/version")
        yield url, temp_dir, head.pid
    finally:
        stop_server(head)
        shutil.rmtree(temp_dir, ignore_errors=True)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """``n`` different free ports: each socket stays bound until all are, so none is handed out twice."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def wait_for(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (Ray's token authentication may refuse an anonymous request)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def stop_server(process: subprocess.Popen) -> None:
    """Stop a server started in its own session, with everything it started.

    SIGTERM goes to the server alone, which stops what it started in order (sent to the whole group,
    `ray start --block` waits 30 s for processes its children already stopped); SIGKILL then takes any
    process of the group that is left."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextlib.contextmanager
def mlflow_server(store: Path) -> Iterator[str]:
    """A real MLflow tracking server with its stores in ``store``; yields its URL, stopped at the end."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--backend-store-uri", f"sqlite:///{store}/mlflow.db", "--artifacts-destination", str(store / "art")]
    command += ["--workers", "1"]
    server = subprocess.Popen(
        command, cwd=store, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the workers it started, nothing else
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # its web server waits for open connections to close
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
