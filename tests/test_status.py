"""`sweep status DIR`: a sweep read while its trials run (the shared smoke run, read by `sweep status
--json` from outside), once finished (against its report), a copy of its Ray files judged running or
crashed by their age, by a stop its driver recorded or with its files dated ahead of this clock, and a
folder that is not a sweep."""

from __future__ import annotations

import json
import os
import time

import pytest

from sweep.cli import main
from sweep.monitor.status import STALE_LOCAL_S, SweepStatus, status_lines, sweep_status
from sweep.store.folder import TIME_FORMAT
from trainables.errors import InputError

from .conftest import own_output, ray_only_copy

COUNTS = ("completed", "pruned", "errored", "running", "pending", "interrupted")


def _status(location, now: float) -> dict:
    """What `sweep status --json` would print for ``location`` at ``now``."""
    return sweep_status(str(location), now=now).model_dump(mode="json")


def _adds_up(status: dict) -> None:
    trials = status["trials"]
    assert trials["total"] == 8 == sum(trials[key] for key in COUNTS)
    assert len(status["running"]) == trials["running"]


def test_a_running_sweep_shows_its_running_trials_and_counts_that_add_up(smoke_run):
    assert smoke_run.live_errors == []
    status = smoke_run.live_status
    assert status is not None, "no `sweep status` caught the smoke sweep while a trial ran"
    assert status["state"] == "running" and not status["reported"]
    assert SweepStatus.model_validate(status).model_dump(mode="json") == status  # every key, none other
    _adds_up(status)
    assert status["trials"]["running"] >= 1 and status["trials"]["interrupted"] == 0
    for entry in status["running"]:
        assert set(entry) == {"trial_id", "step", "total_steps", "evaluations", "last_score", "elapsed_s"}
        assert 0 <= entry["step"] <= 13
    best = status["best"]
    if best is not None:  # a score exists once a trial has reported
        assert set(best) >= {"trial_id", "config", "score", "step", "provisional"}
        assert best["provisional"] == (status["trials"]["completed"] == 0)
        assert best["status"] in (("running", "pruned") if best["provisional"] else ("completed",))
        assert 0 < best["score"] < 1 and best["config"]["batch_size"] == 32
    assert status["elapsed_s"] > 0
    # Time left is known once a trial has finished.
    finished = sum(status["trials"][key] for key in ("completed", "pruned", "errored"))
    assert (status["remaining_s"] is None) == (finished == 0)


def test_a_finished_sweep_shows_the_counts_and_the_winner_of_its_report(smoke_experiment, capsys):
    report = json.loads((smoke_experiment / "report.json").read_text())
    assert main(["status", str(smoke_experiment), "--json"]) == 0
    status = json.loads(own_output(capsys).out)
    assert {key: status["trials"][key] for key in ("total", "completed", "pruned", "errored")} == {
        key: report["trials"][key] for key in ("total", "completed", "pruned", "errored")
    }
    _adds_up(status)
    assert status["trials"]["running"] == status["trials"]["pending"] == 0
    assert (status["state"], status["reported"], status["remaining_s"]) == ("finished", True, 0.0)
    assert status["delivered"] is True
    assert status["best"]["trial_id"] == report["best"]["trial_id"] and not status["best"]["provisional"]
    assert status["best"]["score"] == pytest.approx(report["best"]["sts_dev_spearman"])
    assert status["best"]["config"] == pytest.approx(report["best"]["config"])
    assert main(["status", str(smoke_experiment)]) == 0
    lines = own_output(capsys).out.splitlines()
    assert lines[1].startswith("state: finished sweep, ")
    counts = "{completed} completed, {pruned} pruned, 0 errored".format(**report["trials"])
    assert lines[2] == f"trials: 8 planned: {counts}, 0 running, 0 pending"
    assert lines[3].startswith(f"best: trial {report['best']['trial_id']} (completed)")


def test_a_sweep_whose_files_stopped_changing_is_judged_crashed_and_its_started_trials_interrupted(
    smoke_experiment, tmp_path
):
    # Ray's files only, as a driver killed mid-sweep leaves them; one pruned trial marked still running.
    copy = ray_only_copy(smoke_experiment, tmp_path / "copy")
    pruned = json.loads((smoke_experiment / "report.json").read_text())["trials"]["pruned"]
    (state_file,) = copy.glob("experiment_state-*.json")
    state = json.loads(state_file.read_text())
    entries = [[json.loads(s), r] for s, r in state["trial_data"]]
    reports = {p.parent.name: p.read_text() for p in copy.glob("trial_*/result.json")}
    last_rows = {e["trial_id"]: json.loads(reports[f"trial_{e['trial_id']}"].splitlines()[-1]) for e, _ in entries}
    victim = next(e for e, _ in entries if not last_rows[e["trial_id"]]["completed"])
    victim["status"] = "RUNNING"
    state["trial_data"] = [[json.dumps(e), r] for e, r in entries]
    state_file.write_text(json.dumps(state))
    now = time.time()
    for path in [state_file, *copy.glob("trial_*/result.json")]:
        os.utime(path, (now, now))

    live = _status(copy, now + 5)
    _adds_up(live)
    assert live["state"] == "running"
    assert live["trials"]["pruned"] == pruned - 1 and live["trials"]["running"] == 1
    assert live["running"][0]["trial_id"] == victim["trial_id"]

    # No file changed for longer than Ray goes without rewriting its state file: the driver is gone.
    later = now + STALE_LOCAL_S + 5
    crashed = _status(copy, later)
    _adds_up(crashed)
    assert crashed["state"] == "crashed" and crashed["remaining_s"] is None
    assert (crashed["trials"]["running"], crashed["trials"]["interrupted"]) == (0, 1)
    assert crashed["last_change_s"] == pytest.approx(STALE_LOCAL_S + 5, abs=1)


def test_a_sweep_whose_driver_recorded_a_stop_is_crashed_at_once_until_a_resume_starts(smoke_experiment, tmp_path):
    copy = ray_only_copy(smoke_experiment, tmp_path / "copy")
    meta_file = copy / "experiment.json"
    meta = json.loads(meta_file.read_text())
    now = time.time()
    for path in [*copy.glob("experiment_state-*.json"), *copy.glob("trial_*/result.json"), meta_file]:
        os.utime(path, (now, now))

    def stamp(seconds: float) -> str:
        return time.strftime(TIME_FORMAT, time.localtime(seconds))

    def state(**recorded) -> str:
        meta_file.write_text(json.dumps({**meta, "created": stamp(now - 60), **recorded}))
        os.utime(meta_file, (now, now))
        return sweep_status(str(copy), now=now + 5).state

    assert state() == "running"  # its files changed 5 s ago
    assert state(stopped=[stamp(now)]) == "crashed"
    assert state(stopped=[stamp(now - 30)], resumed=[stamp(now - 20)]) == "running"
    assert state(stopped=[stamp(now - 30), stamp(now)], resumed=[stamp(now - 20)]) == "crashed"
    # Damaged entries are no times: the files' age decides. A file damaged whole is refused.
    assert state(stopped={"at": stamp(now)}, resumed=7) == "running"
    meta_file.write_text("[1, 2]")
    with pytest.raises(InputError, match=r"experiment.json: damaged \(a JSON list where an object belongs\)"):
        sweep_status(str(copy), now=now + 5)


def test_a_folder_that_is_not_a_sweep_is_refused_with_one_line_and_status_2(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    captured = own_output(capsys)
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"sweep: error: {tmp_path}")


def test_a_dead_sweep_whose_files_are_dated_ahead_of_this_clock_is_crashed_not_running(smoke_experiment, tmp_path):
    # A file server whose clock runs an hour ahead dated every file of a driver that has since died;
    # its reports (stamped by the workers' clocks) are older than Ray ever goes without a state write.
    copy = ray_only_copy(smoke_experiment, tmp_path / "copy")
    now = time.time() + STALE_LOCAL_S + 5
    ahead = now + 3600
    for path in copy.rglob("*"):
        if path.is_file():
            os.utime(path, (ahead, ahead))
    found = sweep_status(str(copy), now=now)
    status = found.model_dump(mode="json")
    _adds_up(status)
    assert status["state"] == "crashed" and status["trials"]["running"] == 0
    assert status["clock_ahead_s"] == pytest.approx(3600, abs=1)
    (line,) = [line for line in status_lines(found) if line.startswith("state: ")]
    assert "ahead of this clock, so they were not counted: make sure no driver still runs it" in line
    assert line.endswith(f"`sweep resume {copy}` finishes it")
