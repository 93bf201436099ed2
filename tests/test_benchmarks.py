"""The benchmarks' shared parts: where a sweep's time went, and the rows they append to RESULTS.md."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.record import ROW_HEADER, Outcome, append_row
from benchmarks.sweeps import SweepRun


def two_trials() -> SweepRun:
    """Two trials on two slots: trial a reports twice, trial b (pruned) once."""
    reports = pd.DataFrame(
        {
            "trial_id": ["a", "a", "b"],
            "step": [4, 8, 4],
            "run_started_at": [100.0, 100.0, 101.0],
            "first_step_at": [103.0, 103.0, 102.0],
            "last_step_at": [110.0, 118.0, 109.0],
            "reported_at": [112.0, 120.0, 111.0],
            "step_time_s": [6.0, 12.0, 5.0],
            "eval_time_s": [2.0, 4.0, 2.0],
        }
    )
    trials = pd.DataFrame(
        {"trial_id": ["a", "b"], "trial_index": [0, 1], "status": ["completed", "pruned"], "steps": [8, 4]}
    )
    trials["sts_dev_best"] = [0.80, 0.78]
    return SweepRun(launched_at=90.0, trials=trials, reports=reports, slots=2, folder=None)


def test_per_trial_figures_come_from_each_trials_last_report():
    frame = two_trials().per_trial()
    assert list(frame["trial_id"]) == ["a", "b"]
    a, b = frame.iloc[0], frame.iloc[1]
    assert (a["wall_s"], a["to_first_step_s"], a["step_s"], a["eval_s"], a["steps"]) == (20.0, 3.0, 12.0, 4.0, 8)
    assert (b["wall_s"], b["to_first_step_s"], b["status"]) == (10.0, 1.0, "pruned")


def test_sweep_totals():
    run = two_trials()
    assert run.total_steps == 12
    assert run.best_sts_dev == pytest.approx(0.80)
    assert run.sweep_wall_s() == 20.0  # first trial start (100) to last report (120)


def test_rows_are_appended_under_one_header(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\nSome prose.\n")
    outcome = Outcome(name="n", table=pd.DataFrame(), measured="ratio 0.99 | a pipe", target="≥ 0.97", met=True)
    append_row(outcome, "quick", 1.5, "python -m benchmarks --quick n", path=path)
    append_row(outcome, "full", 2.0, "python -m benchmarks n", path=path)
    text = path.read_text()
    assert text.startswith("# Results\n\nSome prose.\n")
    assert text.count(ROW_HEADER) == 1
    rows = text.split(ROW_HEADER)[1].strip().splitlines()
    assert len(rows) == 2
    assert "| quick | ratio 0.99 / a pipe | ≥ 0.97 | yes | 1.50 → " in rows[0]
    assert rows[1].endswith("| `python -m benchmarks n` |")


def _turns(walls: list[tuple[str, float]], best: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"turn": turn, "side": side, "wall_s": wall, "steps": 100, "best_sts_dev": best[side]}
            for turn, (side, wall) in enumerate(walls, start=1)
        ]
    )


def test_peer_ratio_over_abba_turns_is_immune_to_a_steady_drift():
    from benchmarks.peer import summary

    # Ours costs 0.9 of the peer's work; the machine slows by a tenth at every turn.
    walls = [("peer", 100 * 1.0), ("ours", 90 * 1.1), ("ours", 90 * 1.2), ("peer", 100 * 1.3)]
    found = summary(_turns(walls, {"peer": 0.90, "ours": 0.897}))
    assert found["ratio"] == pytest.approx(0.9)
    # Each pair alone reads the drift as a difference between the sides.
    assert found["pair_ratios"] == pytest.approx([0.99, 108 / 130])
    assert found["equal"]  # 0.003 lower is within the tolerance


def test_peer_summary_refuses_unpaired_turns_and_flags_a_lower_score():
    from benchmarks.peer import summary

    with pytest.raises(ValueError, match="every turn"):
        summary(_turns([("peer", 100.0), ("ours", 90.0), ("ours", 90.0)], {"peer": 0.9, "ours": 0.9}))
    assert not summary(_turns([("peer", 100.0), ("ours", 80.0)], {"peer": 0.90, "ours": 0.89}))["equal"]


def test_our_side_is_scored_by_its_best_report_of_a_completed_trial_patience_ended_ones_included():
    from benchmarks.peer import sweep_figures
    from trainables.metrics import OBJECTIVE

    trials = pd.DataFrame({"trial_id": ["full", "ended", "pruned"], "status": ["completed", "completed", "pruned"]})
    rows = [  # (trial, step, score): "ended" peaked at step 20 and ended itself at 40 (patience 1)
        ("full", 20, 0.90),
        ("full", 40, 0.91),
        ("full", 60, 0.905),
        ("ended", 20, 0.93),
        ("ended", 40, 0.92),
        ("pruned", 20, 0.95),  # higher, but a pruned trial never wins
    ]
    reports = pd.DataFrame(
        [
            {
                "trial_id": t,
                "step": step,
                "total_steps": 60,
                OBJECTIVE: score,
                "step_time_s": step * 5.0,
                "eval_time_s": 1.0,
            }
            for t, step, score in rows
        ]
    )
    found = sweep_figures(trials, reports)
    assert found["best_sts_dev"] == 0.93  # what the sweep ranks first and its retrain delivers
    assert found["best_last_of_full_runs"] == 0.905  # the last report of the one trial that ran 60 steps
    assert (found["steps"], found["completed"], found["pruned"], found["evaluations"]) == (120, 2, 1, 6)


def test_test_support_imports_no_benchmark_and_lives_under_tests():
    """Benchmarks may use the tests' helpers (fault injection, servers); the helpers never use a benchmark."""
    import ast
    from pathlib import Path

    tests = Path(__file__).parent
    support = [path for path in tests.glob("*.py") if not path.name.startswith("test_")]
    assert {"conftest.py", "servers.py", "fault_injection.py"} <= {path.name for path in support}
    for path in support:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [name for name in names if name.split(".")[0] == "benchmarks"], path.name
    assert not (tests.parent / "benchmarks" / "fault_injection.py").exists()
