"""`sweep simulate`: recorded curves replayed through the sweep's own ASHA and patience rule in virtual time,
checked against the real runs that recorded them and against ASHA's rung arithmetic by hand."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sweep.cli import main
from sweep.config.experiment import load_config
from sweep.simulate.replay import CURVE_ENDS, Curve, replay

from .conftest import SMOKE

RECORDED = Path(__file__).parent / "data" / "simulate_smoke"  # a 12-trial smoke sweep, 2 trials at a time
# The CPU recipe (search_spaces/minilm_cpu.yaml) as recorded on 2 cores: 20 trials of MiniLM, one at a time,
# ASHA with reduction factor 3 (its data paths made relative to the repository, as the recipe gives them).
RECORDED_CPU_RECIPE = Path(__file__).parent / "data" / "simulate_minilm_cpu"
RECORDED_CUT_RECIPE = Path(__file__).parent / "data" / "simulate_minilm_cut_cpu"  # STS-dev every 20 steps
# The same recipe swept under PASHA (grace 1, rf 3, no margin): its first 10 configs and its winner are the ASHA
# sweep's, which lets the two schedulers be compared on the same trials.
RECORDED_CUT_PASHA = Path(__file__).parent / "data" / "simulate_minilm_cut_cpu_pasha"
FOLDER_FILES = ("reports.parquet", "trials.parquet", "config.yaml", "experiment.json")
OUTPUTS = ("simulate.json", "simulate.md", "simulate.png")


def _copy(source: Path, target: Path) -> Path:
    target.mkdir()
    for name in FOLDER_FILES:
        shutil.copy(source / name, target / name)
    return target


def _simulate(folder: Path, *args: str) -> dict:
    assert main(["simulate", str(folder), *args]) == 0
    return json.loads((folder / "simulate.json").read_text())


def _assert_replays_reality(record: dict, reports: pd.DataFrame) -> None:
    check = record["replay_check"]
    assert check["decisions_total"] == len(reports)  # one decision per recorded report
    assert check["decisions_matched"] == check["decisions_total"], check["differences"]
    assert abs(check["wall_s"] - check["recorded_wall_s"]) <= 0.1 * check["recorded_wall_s"]


def test_the_committed_recording_replays_every_decision_and_its_wall_time_and_writes_the_three_files(tmp_path, capsys):
    folder = _copy(RECORDED, tmp_path / "sweep")
    record = _simulate(folder)
    _assert_replays_reality(record, pd.read_parquet(folder / "reports.parquet"))
    (setting,) = record["settings"]
    assert setting["workers"] == setting["concurrency"] == record["recorded"]["concurrency"] == 2
    assert setting["same_winner"] and setting["winner"] == record["recorded"]["winner"]
    trials = pd.read_parquet(folder / "trials.parquet")
    assert setting["pruned"] == (trials["status"] == "pruned").sum() and setting["curve_ends"] == 0
    assert setting["compute_s"] > setting["wall_s"] > 0
    assert all((folder / name).stat().st_size > 0 for name in OUTPUTS)
    assert (folder / "simulate.png").read_bytes().startswith(b"\x89PNG")
    out = capsys.readouterr().out
    assert "34 of 34" in out and "decisions in" in out and "per second" in out


@pytest.mark.parametrize(
    "recorded",
    [RECORDED_CPU_RECIPE, RECORDED_CUT_RECIPE, RECORDED_CUT_PASHA],
    ids=["minilm_cpu", "minilm_cut_cpu", "minilm_cut_cpu_pasha"],
)
def test_the_committed_cpu_recipe_recordings_replay_every_decision_and_their_wall_time(tmp_path, recorded):
    folder = _copy(recorded, tmp_path / "sweep")
    record = _simulate(folder)
    _assert_replays_reality(record, pd.read_parquet(folder / "reports.parquet"))
    (setting,) = record["settings"]
    assert setting["workers"] == setting["concurrency"] == 1
    assert setting["same_winner"] and setting["winner"] == record["recorded"]["winner"]
    trials = pd.read_parquet(folder / "trials.parquet")
    assert setting["pruned"] == (trials["status"] == "pruned").sum() > 0 and setting["curve_ends"] == 0


def test_a_fresh_smoke_sweep_replayed_with_its_own_settings_makes_the_real_runs_decisions(smoke_experiment, tmp_path):
    folder = _copy(smoke_experiment, tmp_path / "sweep")
    record = _simulate(folder)
    _assert_replays_reality(record, pd.read_parquet(folder / "reports.parquet"))
    assert record["settings"][0]["same_winner"]


def test_reduction_factor_4_has_no_rung_at_2_so_the_trial_stopped_there_runs_out_of_curve(tmp_path):
    # Rungs sit at grace_period * rf**k below max_t 4: 1, 2 with rf 2; only 1 with rf 4. The recording's
    # one trial stopped at its second evaluation is let go on with rf 4, and its curve ends there.
    folder = _copy(RECORDED, tmp_path / "sweep")
    record = _simulate(folder, "--set", "scheduler.reduction_factor=4")
    (setting,) = record["settings"]
    assert set(setting["stopped_at_rung"]) == {"1"} and setting["curve_ends"] == 1
    assert "(*curve ends*)" in (folder / "simulate.md").read_text()


def test_without_a_scheduler_every_recorded_pruned_trial_runs_out_of_curve(tmp_path):
    folder = _copy(RECORDED, tmp_path / "sweep")
    (setting,) = _simulate(folder, "--set", "scheduler.type=none")["settings"]
    pruned = (pd.read_parquet(folder / "trials.parquet")["status"] == "pruned").sum()
    assert setting["stopped_at_rung"] == {} and setting["pruned"] == 0 and setting["curve_ends"] == pruned


def test_workers_beyond_max_concurrent_wait_and_a_larger_max_concurrent_shortens_the_sweep(tmp_path):
    folder = _copy(RECORDED, tmp_path / "sweep")
    capped = _simulate(folder, "--workers", "1", "2", "8")["settings"]
    assert [s["concurrency"] for s in capped] == [1, 2, 2]
    assert capped[0]["wall_s"] > capped[1]["wall_s"] == capped[2]["wall_s"]
    (wide,) = _simulate(folder, "--workers", "4", "--set", "search.max_concurrent=4")["settings"]
    assert wide["concurrency"] == 4 and wide["wall_s"] < capped[1]["wall_s"]


def test_bootstrap_replays_k_resampled_trials_says_so_and_repeats_with_its_seed(tmp_path):
    folder = _copy(RECORDED, tmp_path / "sweep")
    first = _simulate(folder, "--bootstrap", "40", "--seed", "3")
    again = _simulate(folder, "--bootstrap", "40", "--seed", "3")
    other = _simulate(folder, "--bootstrap", "40", "--seed", "4")
    assert first["settings"][0]["trials"] == 40 and first["bootstrap"]["trials"] == 40
    assert first["settings"] == again["settings"] and first["settings"] != other["settings"]
    assert "not new searches" in (folder / "simulate.md").read_text()
    assert first["replay_check"]["decisions_total"] == 34  # always checked on the recorded trials


def _curve(name: str, scores: list[float]) -> Curve:
    rows = [
        {
            "training_iteration": i,
            "step": 4 * i,
            "total_steps": 16,
            "sts_dev_spearman_cosine": score,
            "completed": i == 4,
        }
        for i, score in enumerate(scores, start=1)
    ]
    return Curve(name, name, "completed", rows, offsets=[10.0 * i for i in range(1, 5)], overhead_s=1.0)


# One at a time in this order. rf 2: rungs 1 and 2, cutoff the median of the rung so far; rf 4: rung 1
# only, cutoff the 75th percentile. A sets the bar; B beats 0.50 at rung 1 but falls under A's 0.60 at
# rung 2; C (0.56) passes rf 2's median of [0.50, 0.60] (0.55) but not rf 4's 75th percentile (0.575);
# D is under both.
CURVES = [
    _curve("A", [0.50, 0.60, 0.65, 0.70]),
    _curve("B", [0.60, 0.50, 0.52, 0.53]),
    _curve("C", [0.56, 0.70, 0.71, 0.72]),
    _curve("D", [0.40, 0.80, 0.81, 0.82]),
]


@pytest.mark.parametrize(
    ("rf", "statuses", "stopped_at", "wall_s"),
    [  # one at a time, so the wall time is each trial's 1 s overhead plus 10 s per report it made
        (2, {"A": "completed", "B": "pruned", "C": "completed", "D": "pruned"}, {1: 1, 2: 1}, 4 + 10 * (4 + 2 + 4 + 1)),
        (4, {"A": "completed", "B": "completed", "C": "pruned", "D": "pruned"}, {1: 2}, 4 + 10 * (4 + 4 + 1 + 1)),
    ],
)
def test_the_reduction_factor_changes_decisions_as_ashas_rung_arithmetic_says(rf, statuses, stopped_at, wall_s):
    config = load_config(SMOKE, ["scheduler.grace_period=1", f"scheduler.reduction_factor={rf}"])
    outcome = replay(CURVES, config, concurrency=1, max_t=4)
    assert outcome.statuses == statuses
    assert dict(outcome.stopped_at) == stopped_at
    assert outcome.wall_s == pytest.approx(wall_s)


def test_patience_ends_a_trial_at_its_first_evaluation_without_a_new_best():
    config = load_config(SMOKE, ["scheduler.reduction_factor=4", "scheduler.patience=1"])
    outcome = replay(CURVES, config, concurrency=1, max_t=4)
    assert outcome.statuses["B"] == "completed" and outcome.decisions["B"] == ["continue", "complete"]
    assert outcome.statuses["A"] == "completed" and len(outcome.decisions["A"]) == 4


def test_a_stopped_trial_that_a_setting_lets_go_on_ends_with_its_curve():
    pruned = Curve("P", "P", "pruned", CURVES[0].rows[:1], offsets=[5.0], overhead_s=0.0)
    config = load_config(SMOKE, ["scheduler.type=none"])
    outcome = replay([pruned], config, concurrency=1, max_t=4)
    assert outcome.statuses == {"P": CURVE_ENDS} and outcome.wall_s == 5.0


@pytest.mark.parametrize(
    ("setup", "args", "needle"),
    [
        ("no_reports", [], "reports.parquet"),
        ("whole", ["--workers", "0"], "--workers"),
        ("whole", ["--set", "scheduler.speed=3"], "scheduler.speed"),
        ("whole", ["--set", "train.batch_size=8"], "train.batch_size"),
        ("whole", ["--set", "scheduler.grace_period=9"], "grace_period"),
        ("whole", ["--bootstrap", "0"], "--bootstrap"),
        ("whole", ["--bootstrap", "5", "--seed", "-1"], "--seed: -1"),
        ("whole", ["--set", "scheduler.reduction_factor=.inf"], "scheduler.reduction_factor"),
        ("whole", ["--set", "objective.target=depth", "--set", "objective.depth=9"], "objective.depth: 9 exceeds"),
        ("whole", ["--set", "objective.full_depth_margin=-1"], "objective.full_depth_margin"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, setup, args, needle):
    folder = _copy(RECORDED, tmp_path / "sweep")
    if setup == "no_reports":
        (folder / "reports.parquet").unlink()
    assert main(["simulate", str(folder), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sweep: error:") and needle in err[0]
    assert not any((folder / name).exists() for name in OUTPUTS)


def test_a_sweep_that_crashed_before_any_trial_completed_replays_without_a_winner(tmp_path):
    # What load_trials reads from a crashed sweep: every trial unfinished after its first evaluation.
    folder = _copy(RECORDED, tmp_path / "sweep")
    reports = pd.read_parquet(folder / "reports.parquet")
    reports[reports["training_iteration"] == 1].assign(completed=False).to_parquet(folder / "reports.parquet")
    trials = pd.read_parquet(folder / "trials.parquet").assign(status="unfinished")
    trials.to_parquet(folder / "trials.parquet")
    record = _simulate(folder, "--workers", "1", "2")
    # The real run stopped 4 of these at their first evaluation; here the record says they went on.
    assert record["replay_check"]["decisions_total"] == len(trials)
    assert record["replay_check"]["decisions_matched"] == len(trials) - 4
    assert record["recorded"]["winner"] is None
    for setting in record["settings"]:
        assert setting["winner"] is None and setting["same_winner"] is None
        assert setting["curve_ends"] + setting["pruned"] == len(trials)
    assert "no winner (no trial completed)" in (folder / "simulate.md").read_text()


@pytest.mark.parametrize(
    "scheduler",
    [(), ("scheduler.type=pasha",), ("scheduler.type=median",), ("scheduler.type=hyperband", "scheduler.brackets=2")],
    ids=["as_recorded", "pasha", "median", "hyperband"],
)
@pytest.mark.parametrize("recorded", [RECORDED, RECORDED_CPU_RECIPE], ids=["smoke", "cpu_recipe"])
def test_a_sweep_resumed_after_a_crash_prunes_as_the_uninterrupted_one_would(recorded, scheduler):
    """The recorded sweep replayed one trial at a time, and the same sweep crashed after k trials: the
    resumed scheduler is told the k finished trials (as `sweep resume` tells its new ASHA) and then judges
    the rest. Its decisions must be the uninterrupted sweep's, report by report; a scheduler that is not
    told them (what Ray Tune's resume gives) decides otherwise."""
    from sweep.simulate.replay import read_recording
    from sweep.store.folder import load_reports, load_trials

    config = load_config(recorded / "config.yaml", list(scheduler))
    meta = json.loads((recorded / "experiment.json").read_text())
    recording = read_recording(load_trials(recorded), load_reports(recorded), config, meta.get("max_evaluations"))
    curves, max_t = recording.curves, recording.max_t
    uninterrupted = replay(curves, config, concurrency=1, max_t=max_t)
    # What the folder records of a finished trial: the reports it made until it completed or ASHA stopped it.
    made = [dataclasses.replace(c, rows=c.rows[: len(uninterrupted.decisions[c.trial_id])]) for c in curves]
    forgetful = 0
    for k in range(1, len(curves) - 1):
        resumed = replay(curves[k:], config, concurrency=1, max_t=max_t, earlier=made[:k])
        for curve in curves[k:]:
            assert resumed.decisions[curve.trial_id] == uninterrupted.decisions[curve.trial_id], (k, curve.trial_id)
        fresh = replay(curves[k:], config, concurrency=1, max_t=max_t)
        forgetful += any(fresh.decisions[c.trial_id] != uninterrupted.decisions[c.trial_id] for c in curves[k:])
    assert forgetful > 0  # without the earlier trials, the scheduler's state differs and so do its decisions


def test_pasha_on_the_asha_sweeps_trials_keeps_its_winner_with_under_half_the_compute(tmp_path):
    """The cut recipe's ASHA sweep (grace 3, rf 3) replayed under the default PASHA: the same 16 trials, the
    same winner, and less than half the worker time; and the real PASHA sweep of the recipe picked that config."""
    folder = _copy(RECORDED_CUT_RECIPE, tmp_path / "asha")
    asha = _simulate(folder, "--set", "objective.full_depth_margin=null")["settings"][0]
    pasha = _simulate(
        folder,
        "--set",
        "objective.full_depth_margin=null",
        "--set",
        "scheduler.type=pasha",
        "--set",
        "scheduler.grace_period=1",
    )["settings"][0]
    assert pasha["winner"] == asha["winner"] and pasha["curve_ends"] == 0
    assert pasha["compute_s"] < 0.5 * asha["compute_s"]
    real = pd.read_parquet(RECORDED_CUT_PASHA / "trials.parquet").sort_values("trial_index")
    recorded = pd.read_parquet(RECORDED_CUT_RECIPE / "trials.parquet").set_index("trial_id")
    best = real.loc[real["sts_dev_best_mean_depth"].idxmax()]
    assert best["learning_rate"] == pytest.approx(recorded.loc[asha["winner"], "learning_rate"])
