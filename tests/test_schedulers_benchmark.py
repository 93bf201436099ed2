"""Benchmark 12 in quick mode on the committed recordings: every scheduler replayed on the same resampled
draws, its compute against ASHA as each recording ran it, and the default picked by the issue's rule."""

from __future__ import annotations

import pytest

from benchmarks import schedulers
from benchmarks.schedulers import COMPUTE_SHARE, QUICK, RECORDINGS, WINNER_RATE, measure, run, table
from benchmarks.session import Session


@pytest.fixture(scope="module")
def figures():
    return measure(QUICK)


def test_without_early_stopping_every_draw_finds_its_best_curve_at_the_most_compute(figures):
    summary = figures.summary().set_index("setting")
    assert summary.loc["none", "best curve"] == 1.0 and summary.loc["none", "within noise"] == 1.0
    assert summary.loc["ASHA as today", "compute/today"] == pytest.approx(1.0)
    stopping = summary.drop(index="none")
    assert (stopping["compute/today"] < summary.loc["none", "compute/today"]).all()
    assert (stopping["within noise"] >= stopping["best curve"]).all()  # the best curve is within noise of itself


def test_every_setting_replays_every_recording_on_the_same_draws(figures):
    for recording in RECORDINGS:
        cells = [c for c in figures.cells if c.recording == recording]
        assert {c.setting for c in cells} >= {"none", "ASHA as today", "pasha rf 3 grace 1", "median grace 1"}
        for trials, workers in {(c.trials, c.workers) for c in cells}:
            same = [c for c in cells if (c.trials, c.workers) == (trials, workers)]
            assert len({tuple(c.best) for c in same}) == 1  # one best curve per draw, whatever the setting
            assert all(len(c.runs) == QUICK.draws for c in same)


def test_the_default_is_the_cheapest_setting_that_finds_the_best_curve_often_enough(figures):
    chosen = figures.default()
    summary = figures.summary()
    assert chosen is not None and chosen["within noise"] >= WINNER_RATE
    eligible = summary[(summary["within noise"] >= WINNER_RATE) & (summary["lowest recording rate"] >= 0.9)]
    assert chosen["compute/today"] == eligible[eligible["setting"] != "none"]["compute/today"].min()


def test_the_outcome_states_the_targets_the_default_and_the_resampling(figures, monkeypatch):
    monkeypatch.setattr(schedulers, "measure", lambda plan: figures)  # the same replays, not measured twice
    outcome = run(Session(quick=True))
    assert outcome.name == "12. schedulers" and f"≤ {COMPUTE_SHARE:.0%} of ASHA-as-today's compute" in outcome.target
    assert outcome.measured.startswith("default by the rule: ")
    assert any("resampled curves, not new searches" in note for note in outcome.notes)
    assert set(table(figures).columns) >= {"setting", "within noise", "compute/today"}
