"""Faults injected as they happen, for the benchmarks and the tests that measure them: a sweep run as
its own process (as a shell or a job starts it), the nodes of a Ray cluster on this machine
(``ray.cluster_utils.Cluster``) killed whole, and folders on a small or read-only file system."""

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
        overrides: tuple[str, ...] | list[str] = (),
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
        assert self.process.stdout is not None and self.process.stderr is not None  # both piped above
        self.out, errors = self.process.stdout, self.process.stderr
        self.err: list[str] = []
        self.reader = threading.Thread(target=lambda: self.err.extend(errors), daemon=True)
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
        self.out.read()
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


def mount(*args: str) -> bool:
    """``mount ARGS``; whether it worked (it needs root, and a container that lets root mount)."""
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextlib.contextmanager
def small_disk(where: Path, size_kb: int):
    """A file system of ``size_kb`` (a tmpfs, empty) at ``where``; the test is skipped where this user
    cannot mount one."""
    import pytest

    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not mount("-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)):
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` read-only, its files kept: a read-only bind mount for root (whom modes do not stop),
    else its mode; skipped where root may not mount."""
    import pytest

    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        if not (mount("--bind", str(folder), str(folder)) and mount("-o", "remount,ro,bind", str(folder))):
            subprocess.run(["umount", str(folder)], capture_output=True)
            pytest.skip("a read-only bind mount needs mount privileges")
        try:
            yield folder
        finally:
            subprocess.run(["umount", str(folder)], capture_output=True)
    else:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)


# What a read-only folder's refusal says, by who runs the tests: root meets the read-only mount.
READ_ONLY_REASON = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
READ_ONLY_FIX = "make its file system writable" if os.geteuid() == 0 else "make it writable for this user"
