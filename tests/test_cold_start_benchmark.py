"""Benchmark 2b's readers: the start-up figure it takes from `sweep run`'s own log, and the first trial's
time it takes from a committed recording."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.cold_start import RECORDINGS, _logged, recorded_first_trial_s


def test_the_ray_ready_figure_is_read_from_a_real_sweep_log(smoke_run):
    ready = _logged(smoke_run.output, "Ray ready at ")
    validated = _logged(smoke_run.output, "validated the config and loaded the data in ")
    assert ready is not None and validated is not None and 0 < validated <= ready
    assert _logged("sweep: something else\n", "Ray ready at ") is None


def test_the_first_trial_is_the_one_that_started_first_from_its_entry_to_its_last_report():
    reports = pd.read_parquet(RECORDINGS / "simulate_smoke" / "reports.parquet")
    first = reports.loc[reports["run_started_at"].idxmin(), "trial_id"]
    own = reports[reports["trial_id"] == first]
    expected = own["reported_at"].max() - own["run_started_at"].min()
    assert recorded_first_trial_s(RECORDINGS / "simulate_smoke") == pytest.approx(expected)
    assert expected < reports["reported_at"].max() - reports["run_started_at"].min()  # not the whole sweep
