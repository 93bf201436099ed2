"""What a sweep's driver spends, measured around ``Tuner.fit()``: time inside the searcher, CPU seconds of
the driver and of Ray's own processes, the driver's memory, and the experiment folder's bytes."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from sweep.tuning.searcher import SweepSearch

MiB = 1024 * 1024


class SearcherClock:
    """Times every call of the sweep's searcher hooks that Tune makes, while the ``with`` block lasts.

    The methods are wrapped on the class, not the instance: Tune pickles the searcher's instance state
    into the folder, and a wrapper there would change what is saved. Calls a hook makes to its parent
    class's version are inside its own time, never counted twice.
    """

    HOOKS = ("suggest", "on_trial_result", "on_trial_complete", "save")

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = {hook: [] for hook in self.HOOKS}  # seconds, in call order
        self._own: dict[str, object] = {}

    def __enter__(self) -> SearcherClock:
        for hook in self.HOOKS:
            self._own[hook] = SweepSearch.__dict__.get(hook)  # None: inherited from OptunaSearch
            setattr(SweepSearch, hook, self._timed(hook, getattr(SweepSearch, hook)))
        return self

    def __exit__(self, *exc) -> None:
        for hook, own in self._own.items():
            if own is None:
                delattr(SweepSearch, hook)
            else:
                setattr(SweepSearch, hook, own)

    def _timed(self, hook: str, method):
        calls = self.calls[hook]

        @functools.wraps(method)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                calls.append(time.perf_counter() - started)

        return timed

    def total_s(self) -> float:
        return sum(sum(seconds) for seconds in self.calls.values())


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _role(name: str) -> str:
    if name.startswith("gcs_server"):
        return "gcs"
    if name.startswith("raylet"):
        return "raylet"
    if name.startswith(("ray::", "default_worker")):
        return "workers"
    return "other ray"  # dashboard agents, log monitor


@dataclass
class ProcessMeter:
    """Samples, once a ``period_s``, the driver's resident memory and the CPU seconds of every process
    below it (a local Ray's GCS, raylet, agents and workers are its descendants).

    A process that ends between two samples is counted up to its last sample, so worker CPU is a lower
    bound by at most one period per worker. The sampling itself runs in the driver (a few milliseconds
    per sample) and is inside the driver's CPU figure.
    """

    period_s: float = 1.0
    driver_cpu_s: float = 0.0
    rss_start_mib: float = 0.0
    rss_peak_mib: float = 0.0
    cpu_by_role: dict[str, float] = field(default_factory=dict)
    new_by_role: dict[str, int] = field(default_factory=dict)  # processes first seen after the start
    _first: dict[int, float] = field(default_factory=dict, repr=False)
    _last: dict[int, tuple[str, float]] = field(default_factory=dict, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def __enter__(self) -> ProcessMeter:
        self._driver = psutil.Process(os.getpid())
        self._driver_cpu_0 = _cpu_s(self._driver)
        self.rss_start_mib = self.rss_peak_mib = self._driver.memory_info().rss / MiB
        self._sample(first=True)
        self._thread = threading.Thread(target=self._loop, name="process-meter", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.driver_cpu_s = _cpu_s(self._driver) - self._driver_cpu_0
        totals: dict[str, float] = defaultdict(float)
        new: dict[str, int] = defaultdict(int)
        for pid, (name, cpu) in self._last.items():
            totals[_role(name)] += cpu - self._first.get(pid, 0.0)
            new[_role(name)] += pid not in self._first
        self.cpu_by_role, self.new_by_role = dict(totals), dict(new)

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self._sample()

    def _sample(self, first: bool = False) -> None:
        self.rss_peak_mib = max(self.rss_peak_mib, self._driver.memory_info().rss / MiB)
        for process in self._driver.children(recursive=True):
            try:
                with process.oneshot():
                    name, cpu = process.name(), _cpu_s(process)
            except psutil.Error:
                continue  # ended while being read
            if first:
                self._first[process.pid] = cpu  # only what it spends from now on counts
            self._last[process.pid] = (name, cpu)


def folder_bytes(folder: Path) -> dict[str, int]:
    """Bytes on disk under ``folder`` (allocated blocks, as ``du`` counts them), by what holds them."""
    parts: dict[str, int] = defaultdict(int)
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        top = path.relative_to(folder).parts[0]
        if top.startswith("trial_"):
            part = "trial folders"
        elif top.startswith("experiment_state"):
            part = "Ray experiment state"
        elif top.startswith("searcher-state"):
            part = "searcher state (pickle)"
        elif top == "optuna.journal":
            part = "Optuna journal"
        else:
            part = "other (tuner.pkl, frames, config)"
        parts[part] += path.stat().st_blocks * 512
    return dict(parts)
