"""objective.full_depth_margin: a trial is feasible when its full-depth STS-dev, at the evaluation that
ranks it, is at least the reference defaults' trial's (at its own) minus the margin. Only a feasible
trial wins, Optuna is told each trial's constraint, `sweep simulate --set objective.*` says what a
recorded sweep would have picked under it, and the full-depth verdict becomes a non-inferiority one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep.cli import main
from sweep.config.experiment import load_config
from sweep.report.verdict import verdicts
from sweep.store.ranking import FEASIBLE, NoFeasibleTrialError, select_best, standings
from sweep.tuning.searcher import Warmstart, build_searcher
from sweep.tuning.space import param_space
from trainables.metrics import OBJECTIVE, depth_metric

from .conftest import SMOKE, own_output

RECORDED_SMOKE = Path(__file__).parent / "data" / "simulate_smoke"
DEPTH_1 = ["objective.target=depth", "objective.depth=1"]


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(RECORDED_SMOKE / "trials.parquet"), pd.read_parquet(RECORDED_SMOKE / "reports.parquet")


# Worked out by hand from the recorded smoke sweep (tests/data/simulate_smoke), objective STS-dev at depth 1.
# Each completed trial counts by its evaluation with the best depth-1 score; full depth is read there:
#   0964e2c3  depth 1 0.5689, full 0.5437 (step 13)   <- the best at depth 1
#   e407aa04  depth 1 0.5674, full 0.5589 (step 12)
#   31ee0ff0  depth 1 0.5589, full 0.5583 (step 13)
#   09ad2cb5  depth 1 0.5491, full 0.5465 (step 12)   <- the reference defaults' trial (trial 0)
#   275f1e6f  full 0.5507,  97e4f99e  full 0.5451,  e798b81c  full 0.5387
# Margin 0: the threshold is 0.5465, which 0964e2c3 misses, so e407aa04 wins (4 of the 7 completed trials
# are feasible). Margin 0.005: the threshold is 0.5415, which 0964e2c3 meets, so it wins as it does without
# a margin (6 feasible: all but e798b81c).
PICKED = {None: ("0964e2c3", None), "0": ("e407aa04", 4), "0.005": ("0964e2c3", 6)}


@pytest.mark.parametrize("margin", list(PICKED), ids=[f"margin {m}" for m in PICKED])
def test_simulate_picks_the_trial_the_margin_allows(tmp_path, capsys, margin):
    folder = Path(shutil.copytree(RECORDED_SMOKE, tmp_path / "recorded"))
    sets = [*DEPTH_1, *([f"objective.full_depth_margin={margin}"] if margin is not None else [])]
    assert main(["simulate", str(folder), *[arg for pair in sets for arg in ("--set", pair)]]) == 0
    record = json.loads((folder / "simulate.json").read_text())
    winner, feasible = PICKED[margin]
    assert record["objective"]["changed"] and record["objective"]["winner"] == winner
    assert record["objective"]["feasible"] == feasible
    assert record["objective"]["recorded_winner"] == record["recorded"]["winner"] == "0964e2c3"  # full depth
    assert f"it picks `{winner}`" in own_output(capsys).out


def test_the_winner_is_the_best_feasible_trial_and_every_point_says_whether_it_is_feasible():
    config = load_config(SMOKE, [*DEPTH_1, "objective.full_depth_margin=0"])
    trials, reports = _frames()
    ranking = standings(trials, reports, config.objective, config.reference)
    limit = ranking.attrs["constraint"]
    assert (limit.reference_trial, limit.reference_step) == ("09ad2cb5", 12)
    assert limit.threshold == pytest.approx(0.5465, abs=5e-5)
    feasible = dict(zip(ranking["trial_id"], ranking[FEASIBLE], strict=True))
    assert feasible["0964e2c3"] is False and feasible["e407aa04"] and feasible["09ad2cb5"]
    assert select_best(trials, reports, config.objective, config.reference)["trial_id"] == "e407aa04"
    # Every feasible point ranks above every infeasible one.
    flags = ranking[FEASIBLE].tolist()
    assert flags == sorted(flags, reverse=True)


def test_without_a_feasible_trial_there_is_no_winner_and_one_line_says_why():
    config = load_config(SMOKE, [*DEPTH_1, "objective.full_depth_margin=0"])
    trials, reports = _frames()
    trials.loc[trials["trial_id"] == "09ad2cb5", "status"] = "pruned"  # the defaults' trial cannot win...
    reports.loc[reports["trial_id"] == "09ad2cb5", OBJECTIVE] += 0.05  # ...and set a bar no trial reaches
    with pytest.raises(NoFeasibleTrialError) as raised:
        select_best(trials, reports, config.objective, config.reference)
    line = str(raised.value)
    assert "\n" not in line and line.startswith("no feasible trial: of 6 completed, none reached full-depth STS-dev")
    assert "objective.full_depth_margin 0" in line and "sweep simulate" in line


def _report(step: int, depth_1: float, full: float, completed: bool = False) -> dict:
    row = {"step": step, "completed": completed, depth_metric(1): depth_1, OBJECTIVE: full}
    return {**row, "training_iteration": step // 4}


def test_optuna_is_told_each_trials_constraint_and_its_sampler_reads_it():
    config = load_config(SMOKE, [*DEPTH_1, "objective.full_depth_margin=0.01"])
    searcher = build_searcher(config).searcher
    searcher.set_search_properties(depth_metric(1), "max", param_space(config.space, config.reference))

    def run(trial_id: str, reports: list[dict]):
        assert searcher.suggest(trial_id) is not None
        for report in reports:
            searcher.on_trial_result(trial_id, report)
        searcher.on_trial_complete(trial_id, {**reports[-1], "training_iteration": len(reports)})
        return searcher.study().trials[-1]

    # The first trial is the reference defaults (the searcher's first point): its best depth-1 evaluation
    # has full depth 0.60, so the threshold is 0.59.
    reference = run("defaults", [_report(4, 0.50, 0.58), _report(8, 0.55, 0.60, True)])
    shallow = run("shallow", [_report(4, 0.70, 0.55), _report(8, 0.65, 0.62, True)])  # chosen: step 4
    both = run("both", [_report(4, 0.60, 0.61, True)])
    constraints = {t.number: t.constraints for t in searcher.study().trials}  # what TPE reads
    assert constraints[reference.number] == pytest.approx({"full_depth": -0.01})
    assert constraints[shallow.number] == pytest.approx({"full_depth": 0.04})  # 0.59 - 0.55: infeasible
    assert constraints[both.number] == pytest.approx({"full_depth": -0.02})


def test_with_a_margin_the_full_depth_verdict_says_whether_it_is_no_worse_than_the_margin():
    rng = np.random.default_rng(0)
    gold = rng.normal(size=300)
    default = np.stack([[gold + rng.normal(scale=1.0, size=300) for _ in range(2)] for _ in range(3)])
    close = default + rng.normal(scale=0.05, size=default.shape)  # about the same at every depth
    worse = default + rng.normal(scale=1.5, size=default.shape)  # clearly worse at every depth
    held = verdicts(gold, close, default, full_depth_margin=0.02)
    assert held["full"]["non_inferiority"]["holds"] and "not worse by more than 2.00" in held["full"]["text"]
    missed = verdicts(gold, worse, default, full_depth_margin=0.02)
    assert not missed["full"]["non_inferiority"]["holds"] and "may be worse by more than 2.00" in missed["full"]["text"]
    assert "non_inferiority" not in verdicts(gold, close, default)["full"]


def test_a_resumed_sweep_gives_its_replayed_trials_their_constraints_and_keeps_the_reference():
    config = load_config(SMOKE, [*DEPTH_1, "objective.full_depth_margin=0.01"])
    point = {
        "parameters": {"kl_temperature": 0.5, "last_layer_weight": 1.2, "prior_layers_weight": 0.8},
        "value": 0.7,
        "error": False,
        "pruned": False,
        "intermediate_values": None,
    }
    point["parameters"] |= {"n_layers_per_step": 1, "layer_weighting": "log", "learning_rate": 1e-3}
    warmstart = Warmstart(
        evaluated=[point],
        num_samples=1,
        reference_reports=[_report(8, 0.55, 0.60, True)],  # the defaults' trial finished before the crash
        constraints=[0.04],
    )
    searcher = build_searcher(config, warmstart).searcher
    searcher.set_search_properties(depth_metric(1), "max", param_space(config.space, config.reference))
    (replayed,) = searcher.study().trials
    assert (replayed.state.name, replayed.value, replayed.constraints) == ("COMPLETE", 0.7, {"full_depth": 0.04})
    assert searcher.suggest("new") is not None
    searcher.on_trial_result("new", _report(4, 0.66, 0.57))
    searcher.on_trial_complete("new", _report(8, 0.60, 0.62, True))  # chosen: step 4, full 0.57
    assert searcher.study().trials[-1].constraints == pytest.approx({"full_depth": 0.02})  # 0.59 - 0.57
