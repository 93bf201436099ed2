"""Faults injected as they happen, for the benchmarks and the tests that measure them: a sweep run as
its own process (as a shell or a job starts it), and the nodes of a Ray cluster on this machine
(``ray.cluster_utils.Cluster``) killed whole."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "search_spaces" / "smoke.yaml"
# Every node of a cluster here binds to 127.0.0.1; so that a driver does not look for the head at this
# machine's other address, Ray is told (in each process) that the cluster is this machine alone.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


class SweepProcess:
    """`python -m sweep run SMOKE ...` in its own process group, as a shell starts a command, its stderr
    read as it comes; ``stop`` leaves nothing it started behind."""

    def __init__(
        self,
        results: Path,
        *args: str,
        overrides: list[str] = (),
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ):
        """``sweep run SMOKE --results-dir RESULTS ARGS --set OVERRIDES``, or ``sweep COMMAND`` where given."""
        run = ["run", str(SMOKE), "--results-dir", str(results), *args]
        run += [arg for override in overrides for arg in ("--set", override)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sweep", *(command or run)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        self.err: list[str] = []
        self.reader = threading.Thread(target=lambda: self.err.extend(self.process.stderr), daemon=True)
        self.reader.start()
        self.tree: list = []  # the processes it had started, as of the last condition met

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_for(self, condition, what: str, timeout: float = 400.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                self.tree = psutil.Process(self.process.pid).children(recursive=True)
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"the sweep ended ({self.process.returncode}) before {what}:\n{self.stderr}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}:\n{self.stderr[-3000:]}")

    def finish(self, timeout: float = 600.0) -> tuple[int, float]:
        """The exit status, and the seconds it took to exit after this call."""
        started = time.monotonic()
        self.process.stdout.read()
        status = self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return status, time.monotonic() - started

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for process in self.tree:
            with contextlib.suppress(psutil.Error):
                process.kill()


def add_node(cluster, cpus: int):
    return cluster.add_node(num_cpus=cpus, node_ip_address="127.0.0.1", include_dashboard=False)


def raylet_pid(node) -> int:
    return node.all_processes["raylet"][0].process.pid


def running(node, title: str) -> list[psutil.Process]:
    """The node's worker processes whose title starts with ``title`` (``ray::ImplicitFunc``, a trial)."""
    found = []
    for process in psutil.Process(raylet_pid(node)).children(recursive=True):
        try:
            if process.cmdline() and process.cmdline()[0].startswith(title):
                found.append(process)
        except psutil.Error:
            continue
    return found


def kill_node(cluster, node) -> None:
    """As when the machine goes: every process of the node at once, with SIGKILL."""
    workers = psutil.Process(raylet_pid(node)).children(recursive=True)
    cluster.remove_node(node, allow_graceful=False)
    for process in workers:
        with contextlib.suppress(psutil.Error):
            process.kill()


def reporting_trial(cluster, pids: set[int]) -> str | None:
    """The id of a running trial whose rows, as the driver writes them, come from one of ``pids``."""
    session = Path(cluster.head_node.get_session_dir_path())
    for path in session.glob("artifacts/*/*/driver_artifacts/trial_*/result.json"):
        try:
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        except (OSError, json.JSONDecodeError):  # read while written
            continue
        if rows and rows[-1].get("pid") in pids and not rows[-1].get("completed"):
            return rows[-1]["trial_id"]
    return None
