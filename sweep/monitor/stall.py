"""``failures.trial_timeout_s``: a trial that stops making progress is ended, so the sweep goes on.

A trial whose worker hangs (stopped by SIGSTOP, a deadlock, a GPU that stopped answering) sends no
report and raises nothing: Tune would wait for it forever while its slot stays taken. This Tune callback
notes each trial's last sign of life (its start, each report) and, once a running trial has given none
for ``timeout_s``, kills its worker with ``ray.kill``, Ray's own way to end an actor that no longer
answers (it does not wait for the worker, and a stopped process dies of SIGKILL too). Tune then sees the
actor die and ends the trial as errored, telling the searcher and the scheduler as for any error.

A stalled trial is not retried (``failures.max_retries``): a config that hung once would most likely
hang again, each time holding its slot for a whole ``timeout_s``. Its error file and the sweep's line
for it end with why it was ended.

Tune learns of a killed actor's death before its task's failure, and then leaves the trial out of its
saved experiment state (it saves only trials whose actor it still tracks): the state file would keep the
trial as RUNNING, which a resume reruns. ``record_stalled`` writes their end there after ``fit()``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import ray
from ray.tune import Callback

from sweep.store.files import Folder
from sweep.store.tune_state import state_files

log = logging.getLogger("sweep")


def stall_reason(timeout_s: float) -> str:
    """The last line of a stalled trial's error: what ``trials.parquet`` and the sweep's line say."""
    return f"stalled: no report for {timeout_s:g} s (failures.trial_timeout_s), so its worker was killed; not retried"


class StallWatch(Callback):
    """End a running trial that has reported nothing for ``timeout_s`` seconds as errored."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self._seen: dict[str, float] = {}  # trial id -> clock at its last sign of life
        self.stalled: set[str] = set()  # trials ended by this rule

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._seen[trial.trial_id] = time.monotonic()

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._seen.pop(trial.trial_id, None)  # its restart starts the clock again (on_trial_start)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._seen[trial.trial_id] = time.monotonic()

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        now = time.monotonic()
        for trial in trials:
            seen = self._seen.get(trial.trial_id)
            if trial.status != "RUNNING" or seen is None or trial.trial_id in self.stalled:
                continue
            actor = trial.temporary_state.ray_actor
            if now - seen < self.timeout_s or actor is None:
                continue
            self.stalled.add(trial.trial_id)
            # Tune retries a trial whose actor died while its failures are within max_failures: none here.
            trial.max_failures = 0
            log.info("trial %s %s", trial.trial_id, stall_reason(self.timeout_s))
            ray.kill(actor, no_restart=True)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if trial.trial_id not in self.stalled or not trial.error_file:
            return
        # Tune has written the actor's death (RayActorError) there; the reason goes last, where the
        # sweep's line and trials.parquet's `error` read it.
        try:
            with open(trial.error_file, "a", encoding="utf-8") as handle:
                handle.write(stall_reason(self.timeout_s) + "\n")
        except OSError as error:
            log.warning("could not note why trial %s ended in %s: %s", trial.trial_id, trial.error_file, error)


def record_stalled(folder: Folder, stalled: set[str]) -> None:
    """Mark the ``stalled`` trials ended in ERROR, with their error file, in the newest of Ray's
    experiment state files in ``folder``, as Tune records a trial that raised."""
    names = state_files(folder)
    if not stalled or not names:
        return
    state = folder.read_json(names[-1])
    entries, changed = [], False
    for trial_json, runtime_json in state["trial_data"]:
        trial, runtime = json.loads(trial_json), json.loads(runtime_json)
        if trial.get("trial_id") in stalled and trial.get("status") != "ERROR":
            trial["status"] = "ERROR"
            runtime.update(error_filename="error.txt", num_failures=runtime.get("num_failures", 0) + 1)
            trial_json, runtime_json = json.dumps(trial, indent=2), json.dumps(runtime, indent=2)
            changed = True
        entries.append([trial_json, runtime_json])
    if changed:
        folder.write_text(names[-1], json.dumps({**state, "trial_data": entries}))
