"""The simulate benchmark in quick mode on the committed smoke recording: resampled full-length curves replayed
through the sweep's own schedulers, and figures that add up against the curves they were drawn from."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.session import Session
from benchmarks.simulate import MOONSHOT_TRIALS, MOONSHOT_WORKERS, NONE_SETTING, QUICK, SEARCHED, measure, run, table
from sweep.simulate.replay import bootstrap


@pytest.fixture(scope="module")
def figures():
    return measure(QUICK)


def _draws(figures, cell):
    return [bootstrap(figures.curves, cell.trials, seed) for seed in range(len(cell.runs))]


def test_every_draw_is_made_of_the_recorded_trials_that_trained_their_whole_budget(figures):
    trials = pd.read_parquet(QUICK.recording / "trials.parquet")
    full = trials[trials["steps"] >= trials["total_steps"]]
    assert len(figures.curves) == len(full) < len(trials)  # the smoke sweep's ASHA stopped the others
    assert {c.trial_id for c in figures.curves} == set(full["trial_id"])


def test_without_early_stopping_every_drawn_curve_runs_its_whole_budget(figures):
    for cell in (c for c in figures.cells if c.setting == NONE_SETTING):
        for draw, replayed in zip(_draws(figures, cell), cell.runs, strict=True):
            assert replayed.compute_s == pytest.approx(sum(curve.offsets[-1] for curve in draw))
            assert replayed.calls == sum(len(curve.rows) for curve in draw)
        assert cell.found_best == len(cell.runs)  # the best curve is, by definition, its winner


def test_early_stopping_never_uses_more_compute_than_none_and_the_workers_bound_the_wall(figures):
    stopping = [c for c in figures.cells if c.setting != NONE_SETTING]
    assert len(stopping) == 2 * len([c for c in figures.cells if c.setting == NONE_SETTING]) + len(SEARCHED)
    for cell in figures.cells:
        for replayed, baseline in zip(cell.runs, cell.baseline, strict=True):
            assert 0 < replayed.compute_s <= baseline.compute_s
            assert replayed.compute_s <= cell.workers * replayed.wall_s * (1 + 1e-9)
    assert any(r.compute_s < b.compute_s for c in stopping for r, b in zip(c.runs, c.baseline, strict=True))


def test_on_one_worker_the_wall_is_the_compute_plus_each_trials_start_gap(figures):
    for cell in (c for c in figures.cells if c.workers == 1):
        for draw, replayed in zip(_draws(figures, cell), cell.runs, strict=True):
            assert replayed.wall_s == pytest.approx(replayed.compute_s + sum(curve.overhead_s for curve in draw))


def test_the_table_has_each_arm_per_cell_then_the_searched_settings_from_the_closest(figures):
    frame = table(figures)
    cells = [(t, w) for t in QUICK.trials for w in QUICK.workers if w <= t]
    scale, moonshot = frame[frame["part"] == "scale"], frame[frame["part"] == "moonshot"]
    assert len(scale) == 3 * len(cells) and len(moonshot) == len(SEARCHED)
    assert set(moonshot["trials"]) == {MOONSHOT_TRIALS} and set(moonshot["workers"]) == {MOONSHOT_WORKERS}
    walls = [float(text.split("×")[0]) for text in moonshot["wall / full run"]]
    assert walls == sorted(walls)
    assert scale["setting"].str.endswith("(recorded)").sum() == len(cells)
    assert all(f"/{QUICK.draws}" in found for found in frame["best found"])


def test_the_outcome_states_the_moonshot_target_and_that_the_curves_are_resampled():
    outcome = run(Session(quick=True))
    assert outcome.target == "moonshot: 32 trials on 8 workers ≤ 2× one full run"
    assert isinstance(outcome.met, bool)
    assert "32 trials on 8 workers" in outcome.measured and "decisions/s of CPU" in outcome.measured
    assert any(note.startswith("resampled curves, not new searches") for note in outcome.notes)
