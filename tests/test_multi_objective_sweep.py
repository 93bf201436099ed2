"""End to end with two objectives: a shrunk smoke sweep (4 trials, one retrain), the Pareto front in the report."""

from __future__ import annotations

import json

import pytest

from sweep import load_reports, load_trials
from trainables.metrics import OBJECTIVE, depth_metric

from .conftest import smoke_in_process


@pytest.fixture(scope="module")
def pareto_experiment(ray_session, tmp_path_factory):
    results = tmp_path_factory.mktemp("pareto")
    overrides = [
        "objective.target=pareto",
        "objective.depth=1",
        "search.num_samples=4",
        "search.max_concurrent=1",  # one trial worker to start, not two
        "retrain.defaults=false",
        "retrain.seeds=[13]",
    ]
    return smoke_in_process(results, overrides)


def test_every_front_point_is_one_evaluation_of_a_completed_trial(pareto_experiment):
    report = json.loads((pareto_experiment / "report.json").read_text())
    trials, reports = load_trials(pareto_experiment), load_reports(pareto_experiment)
    assert len(trials) == 4 and report["objective"]["metrics"] == [OBJECTIVE, depth_metric(1)]
    metrics = report["objective"]["metrics"]
    status = dict(zip(trials["trial_id"], trials["status"], strict=True))
    front = report["pareto"]["front"]
    assert front
    for point in front:
        assert status[point["trial_id"]] == "completed"
        rows = reports[(reports["trial_id"] == point["trial_id"]) & (reports["step"] == point["step"])]
        assert len(rows) == 1, point  # a real evaluation of that trial ...
        assert [point[m] for m in metrics] == [float(rows.iloc[0][m]) for m in metrics]  # ... both values from it


def test_the_front_is_the_unbeaten_points_and_the_pick_is_the_best_balanced_one(pareto_experiment):
    report = json.loads((pareto_experiment / "report.json").read_text())
    trials, reports = load_trials(pareto_experiment), load_reports(pareto_experiment)
    full, shallow = report["objective"]["metrics"]
    completed = set(trials.loc[trials["status"] == "completed", "trial_id"])
    # Each completed trial's point: its evaluation with the best mean of both (pick: balanced, the default).
    points = {}
    for trial_id, rows in reports[reports["trial_id"].isin(completed)].groupby("trial_id"):
        row = rows.loc[((rows[full] + rows[shallow]) / 2).idxmax()]
        points[trial_id] = (row[full], row[shallow])
    unbeaten = {
        t
        for t, (a, b) in points.items()
        if not any(x >= a and y >= b and (x > a or y > b) for u, (x, y) in points.items() if u != t)
    }
    assert {p["trial_id"] for p in report["pareto"]["front"]} == unbeaten
    picked = report["pareto"]["picked"]
    assert picked == max(points, key=lambda t: sum(points[t]) / 2) == report["best"]["trial_id"]
    chosen = trials.set_index("trial_id").loc[picked]
    assert report["best"]["config"]["kl_temperature"] == pytest.approx(chosen["kl_temperature"])
    text = (pareto_experiment / "report.md").read_text()
    assert "## Pareto front" in text and f"`{picked}` (retrained)" in text
    assert "](plot_pareto.png)" in text and (pareto_experiment / "plot_pareto.png").stat().st_size > 10_000
    assert report["default"]["test"] is None and report["verdict"] is None
    assert "No verdict: the reference defaults were not retrained" in text
