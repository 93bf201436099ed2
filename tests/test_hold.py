"""The fault tests' hold: a run waits after an evaluation while its gate file exists, and only then."""

from __future__ import annotations

import threading
import time

from trainables.hold import HOLD_ENV, RETRAIN, TRIAL, held


def test_unset_the_report_is_passed_through_untouched(monkeypatch):
    monkeypatch.delenv(HOLD_ENV, raising=False)
    report = [].append
    assert held(report, TRIAL) is report
    assert held(None, RETRAIN) is None


def test_a_run_reports_then_waits_until_its_own_gate_is_removed(monkeypatch, tmp_path):
    monkeypatch.setenv(HOLD_ENV, str(tmp_path))
    (tmp_path / TRIAL).touch()
    rows: list[dict] = []
    report = held(rows.append, TRIAL)
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (report({"step": 4}), done.set()))
    waiter.start()
    time.sleep(0.5)
    assert rows == [{"step": 4}] and not done.is_set()  # reported, then held
    # Another kind's gate holds nothing here: a retrain run goes on while only the trials are held.
    held(None, RETRAIN)({"step": 1})
    (tmp_path / TRIAL).unlink()
    waiter.join(timeout=5)
    assert done.is_set()
