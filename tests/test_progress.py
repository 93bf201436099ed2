"""What a sweep prints while it runs (``sweep.monitor.progress``): the event and progress lines, the estimate of
the time left, and how the Tuner is wired to print them (or Ray's tables with ``--verbose``)."""

from __future__ import annotations

import os
import re
from types import SimpleNamespace

import pytest

from sweep.monitor.progress import OutputOptions, SweepProgress
from sweep.monitor.time_left import duration, estimate_left
from trainables.metrics import FAILURE, OBJECTIVE
from trainables.selection import Selection

from .conftest import SMOKE


def test_time_left_is_unknown_until_a_trial_ends_then_follows_the_mean_trial_time():
    assert estimate_left(5, [], [3.0], 2) is None
    # 4 to start at 10 s each, plus 10 - 4 s of a running one, over 2 at a time.
    assert estimate_left(4, [8.0, 12.0], [4.0], 2) == pytest.approx((4 * 10 + 6) / 2)
    # A running trial already past the mean adds nothing; nothing left is 0.
    assert estimate_left(0, [10.0], [25.0], 1) == 0.0


def test_durations_read_as_people_say_them():
    assert [duration(s) for s in (None, 0.4, 42, 60, 185, 7200, 7260)] == [
        "unknown",
        "0 s",
        "42 s",
        "1 min",
        "3 min 5 s",
        "2 h",
        "2 h 1 min",
    ]


def _trial(trial_id: str, tmp_path, **config):
    return SimpleNamespace(
        trial_id=trial_id,
        config={"kl_temperature": 0.3, "batch_size": 32, **config},
        last_result={},
        path=str(tmp_path / f"trial_{trial_id}"),
        error_file=str(tmp_path / f"trial_{trial_id}" / "error.txt"),
        run_metadata=SimpleNamespace(num_failures=0),
    )


def _report(progress, trial, step, score, completed=False, **extra):
    result = {"step": step, "total_steps": 12, OBJECTIVE: score, "completed": completed, **extra}
    trial.last_result = result
    progress.on_trial_result(0, [], trial, result)


def _lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_each_trial_event_is_one_line_and_each_end_adds_a_progress_line(tmp_path, capsys):
    progress = SweepProgress(4, 2, Selection((OBJECTIVE,)), ["kl_temperature"], location="results/x")
    progress.setup()
    assert _lines(capsys) == ["sweep: Ray Tune runs 4 trials, 2 at a time, into results/x"]
    a, b, c = (_trial(name, tmp_path) for name in ("aaaa", "bbbb", "cccc"))
    progress.on_trial_start(0, [], a)
    progress.on_trial_start(0, [], b)
    assert _lines(capsys) == [
        "sweep: trial 1/4 aaaa started: kl_temperature=0.3",  # the searched values only
        "sweep: trial 2/4 bbbb started: kl_temperature=0.3",
    ]
    _report(progress, a, 4, 0.50)
    _report(progress, b, 4, 0.61)
    _report(progress, b, 8, 0.55)
    assert _lines(capsys) == []  # evaluations are quiet by default
    progress.on_trial_complete(0, [], b)  # stopped before its last step: pruned
    ended, line = _lines(capsys)
    assert ended.startswith("sweep: trial bbbb pruned at step 8/12, best 0.6100 at step 4 (")
    assert re.fullmatch(
        r"sweep: 1/4 done \(0 completed, 1 pruned, 0 errored\), 1 running, 2 pending; "
        r"best 0\.6100 \(bbbb, provisional: none completed yet\); \d+ s elapsed, about \d+ s left",
        line,
    )
    _report(progress, a, 12, 0.52, completed=True)
    progress.on_trial_complete(0, [], a)
    ended, line = _lines(capsys)
    assert ended.startswith("sweep: trial aaaa completed at step 12/12, best 0.5200 at step 12 (")
    # Only completed trials win, as in the report: the pruned trial's higher score no longer counts.
    assert "2/4 done (1 completed, 1 pruned, 0 errored), 0 running, 2 pending; best 0.5200 (aaaa);" in line
    progress.on_trial_start(0, [], c)
    _report(progress, c, 4, float("nan"), **{FAILURE: "training loss became nan"})
    progress.on_trial_complete(0, [], c)
    _started, ended, line = _lines(capsys)
    assert ended == "sweep: trial cccc errored at step 4/12: training loss became nan (0 s)"
    assert "3/4 done (1 completed, 1 pruned, 1 errored), 0 running, 1 pending; best 0.5200 (aaaa);" in line


def test_a_trial_that_ended_itself_on_patience_says_so(tmp_path, capsys):
    progress = SweepProgress(1, 1, Selection((OBJECTIVE,)), ["kl_temperature"], location="results/x")
    trial = _trial("dddd", tmp_path)
    progress.on_trial_start(0, [], trial)
    _report(progress, trial, 4, 0.53)
    _report(progress, trial, 8, 0.51, completed=True)  # its first evaluation without a new best
    progress.on_trial_complete(0, [], trial)
    ended = _lines(capsys)[-2]
    assert ended.startswith(
        "sweep: trial dddd completed at step 8/12 (no new best: ended itself), best 0.5300 at step 4 ("
    )


def test_an_errored_trial_gets_the_last_line_of_its_error_and_where_the_whole_error_is(tmp_path, capsys):
    progress = SweepProgress(2, 1, Selection((OBJECTIVE,)), [], OutputOptions(evaluations=True))
    progress.setup()
    capsys.readouterr()
    trial = _trial("dddd", tmp_path)
    (tmp_path / "trial_dddd").mkdir()
    (tmp_path / "trial_dddd" / "error.txt").write_text(
        "Failure # 1 (occurred at 2026-01-01)\nTraceback (most recent call last):\n  ...\nValueError: boom\n"
    )
    progress.on_trial_start(0, [], trial)
    _report(progress, trial, 4, 0.4)
    trial.run_metadata.num_failures = 1
    progress.on_trial_recover(0, [], trial)
    progress.on_trial_error(0, [], trial)
    lines = _lines(capsys)
    assert lines[1] == "sweep: trial dddd step 4/12: 0.4000 (its best 0.4000 at step 4)"  # --evaluations
    assert lines[2] == "sweep: trial dddd raised (attempt 1), starting it again: ValueError: boom"
    assert lines[3].startswith(
        f"sweep: trial dddd errored after step 4/12: ValueError: boom (whole error: {tmp_path}/trial_dddd/error.txt) ("
    )
    # The retry's rows start again from step 1, so an errored trial has no best to show.
    assert lines[4].startswith("sweep: 1/2 done (0 completed, 0 pruned, 1 errored), 0 running, 1 pending; no score")


@pytest.mark.parametrize("verbose", [False, True])
def test_the_tuner_prints_these_lines_by_default_and_ray_tables_with_verbose(tmp_path, verbose, monkeypatch):
    from sweep.config.experiment import load_config
    from sweep.tuning.tuner import tuner_spec
    from sweep.workflow.commands import prepare_sweep

    monkeypatch.setenv("RAY_AIR_NEW_OUTPUT", "unset")  # restored after the test
    prepared = prepare_sweep(load_config(SMOKE, [f"results_dir={tmp_path}"]))
    spec = tuner_spec(
        prepared.config, prepared.data, prepared.plan, tmp_path / "x", output=OutputOptions(verbose=verbose)
    )
    reporters = [c for c in spec.run_config.callbacks if isinstance(c, SweepProgress)]
    assert spec.run_config.verbose == (1 if verbose else 0)
    assert len(reporters) == (0 if verbose else 1)
    # Tune's earlier output engine, silent at verbose=0, unless its tables are asked for.
    assert os.environ["RAY_AIR_NEW_OUTPUT"] == ("1" if verbose else "0")
    if not verbose:
        (reporter,) = reporters
        assert (reporter.planned, reporter.concurrency, reporter.earlier) == (8, 2, 0)
        assert reporter.location == str(tmp_path / "x")
        assert reporter.searched == [k for k, p in prepared.config.space.items() if p.searched]
