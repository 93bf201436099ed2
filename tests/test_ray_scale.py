"""The ray_scale benchmark on a few trials: the sweep's Tuner runs the replayed curves, and its meters add up."""

from __future__ import annotations

import pytest

from benchmarks.ray_scale import measure, table
from benchmarks.recorded_curves import load_curves
from benchmarks.replay_trainable import curve_of
from benchmarks.searcher_alone import drive
from sweep.tuning.searcher import SweepSearch
from trainables.metrics import OBJECTIVE

# Ray's start and two cold actors take 10 to 20 s on 2 shared cores: more than the default suite allows a test.
slow = pytest.mark.slow
COMPRESS = 1000.0  # the recorded seconds, a thousandth of them: the test measures the wiring, not the sleep


@pytest.fixture(scope="module")
def scale_run(ray_session, tmp_path_factory):
    return measure(6, 2, compress=COMPRESS, runs_dir=tmp_path_factory.mktemp("ray-scale"))


@slow
def test_each_trial_reports_the_recorded_rows_of_its_curve_and_sleeps_their_compressed_time(scale_run):
    curves = load_curves()
    assert len(scale_run.trials) == 6
    assert set(scale_run.trials["status"]) <= {"completed", "pruned"}
    expected_sleep = 0.0
    for trial_id, rows in scale_run.reports.groupby("trial_id"):
        curve = curves[curve_of(trial_id, len(curves))]
        assert list(rows[OBJECTIVE]) == [row[OBJECTIVE] for row in curve[: len(rows)]]
        expected_sleep += sum(row["seconds"] for row in curve[: len(rows)]) / COMPRESS
    assert scale_run.slept_s == pytest.approx(expected_sleep)


@slow
def test_the_searcher_hooks_are_timed_once_per_call_and_the_class_is_left_as_it_was(scale_run):
    calls = scale_run.searcher.calls
    assert len(calls["suggest"]) == 6 and len(calls["on_trial_complete"]) == 6
    assert len(calls["on_trial_result"]) >= len(scale_run.reports) - 6  # a trial's last report may end it
    assert scale_run.searcher.total_s() > 0
    assert "save" not in SweepSearch.__dict__ and SweepSearch.suggest.__qualname__ == "SweepSearch.suggest"


@slow
def test_the_folder_holds_the_journal_and_the_trials_and_the_table_divides_by_the_trials(scale_run):
    assert scale_run.folder_bytes["trial folders"] > 0 and scale_run.folder_bytes["Optuna journal"] > 0
    assert scale_run.meter.driver_cpu_s > 0 and scale_run.meter.rss_peak_mib >= scale_run.meter.rss_start_mib
    figures = table(scale_run).set_index("figure")
    wall = figures.loc["fit() wall"]
    assert float(wall["per trial"].removesuffix(" s")) == pytest.approx(scale_run.fit_wall_s / 6, abs=1e-4)


def test_the_searcher_alone_is_called_as_tune_calls_it_with_either_study():
    curves = load_curves()
    reports = sum(len(curves[k % len(curves)]) for k in range(5))
    for journal in (True, False):
        calls = drive(5, journal)
        assert len(calls["suggest"]) == 5 and len(calls["on_trial_complete"]) == 5
        assert len(calls["on_trial_result"]) == reports - 5
        assert all(seconds > 0 for hook in calls.values() for seconds in hook)
