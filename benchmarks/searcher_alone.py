"""The sweep's searcher without Ray: what SweepSearch costs per trial as its study grows, with the study in
a journal file (the sweep's default) and in memory, one trial at a time, on the recorded curves.

The same calls Tune makes (``suggest``, then ``on_trial_result`` for each report but the last, then
``on_trial_complete`` with it), through the ConcurrencyLimiter ``build_searcher`` returns; nothing else
runs, so a time that grows with the trials here is the searcher's own.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HOOKS = ("suggest", "on_trial_result", "on_trial_complete")


def drive(n_trials: int, journal: bool, recording: Path | None = None) -> dict[str, list[float]]:
    """Seconds of each hook call, in call order, for ``n_trials`` trials replaying the recorded curves in
    turn (trial k replays curve k modulo their number)."""
    import optuna

    from benchmarks.recorded_curves import RECORDING, load_curves
    from sweep.config.experiment import load_config
    from sweep.tuning.searcher import build_searcher
    from sweep.tuning.space import param_space
    from sweep.tuning.study import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    recording = recording or RECORDING
    config = load_config(recording / "config.yaml", [f"search.num_samples={n_trials}", "search.study_name=alone"])
    curves = load_curves(recording)
    calls: dict[str, list[float]] = {hook: [] for hook in HOOKS}
    with tempfile.TemporaryDirectory(prefix="searcher-alone-") as folder:
        storage = open_storage(f"{folder}/optuna.journal") if journal else None
        searcher = build_searcher(config, None, storage)
        searcher.set_search_properties(None, None, param_space(config.space, config.reference))
        for k in range(n_trials):
            trial_id = f"trial-{k}"
            _timed(calls["suggest"], searcher.suggest, trial_id)
            rows = curves[k % len(curves)]
            for i, row in enumerate(rows, start=1):
                result = {**{key: value for key, value in row.items() if key != "seconds"}, "training_iteration": i}
                if i < len(rows):
                    _timed(calls["on_trial_result"], searcher.on_trial_result, trial_id, result)
                else:
                    _timed(calls["on_trial_complete"], searcher.on_trial_complete, trial_id, result)
    return calls


def _timed(calls: list[float], method, *args) -> None:
    started = time.perf_counter()
    method(*args)
    calls.append(time.perf_counter() - started)


def table(n_trials: int) -> pd.DataFrame:
    """Per hook and storage: seconds per trial, and milliseconds per call in the first and last tenth."""
    rows = []
    for journal in (True, False):
        for hook, seconds in drive(n_trials, journal).items():
            tenth = max(1, len(seconds) // 10)
            rows.append(
                {
                    "study": "journal file" if journal else "in memory",
                    "hook": hook,
                    "calls": len(seconds),
                    "s_per_trial": sum(seconds) / n_trials,
                    "ms_per_call_first_tenth": np.mean(seconds[:tenth]) * 1000,
                    "ms_per_call_last_tenth": np.mean(seconds[-tenth:]) * 1000,
                }
            )
    return pd.DataFrame(rows)
