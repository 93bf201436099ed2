"""Servers the tests start on 127.0.0.1 (a Ray head, an S3 server): free ports, waiting, stopping."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

# A head sent SIGTERM first drains its node for up to 30 s (for Ray Serve's replicas, none here) before
# it stops; the heads the tests start stop at once.
NO_DRAIN = {"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}


def head_temp_dir() -> str:
    """A Ray head's own temporary folder. Heads on one machine must not share one: a job's supervisor
    finds its cluster through the address file there, and Ray's socket paths must stay short."""
    return tempfile.mkdtemp(prefix="ray-head-", dir="/tmp")


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
