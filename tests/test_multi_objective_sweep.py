"""End to end with two objectives: a shrunk smoke sweep (4 trials, one retrain), the Pareto front in the report."""

from __future__ import annotations

import json

import pytest

from sweep import load_trials
from sweep.cli import main
from trainables.metrics import OBJECTIVE, depth_metric

from .conftest import SMOKE


@pytest.fixture(scope="module")
def pareto_experiment(ray_session, tmp_path_factory):
    results = tmp_path_factory.mktemp("pareto")
    overrides = ["objective.target=pareto", "objective.depth=1", "search.num_samples=4", "retrain.defaults=false"]
    argv = ["run", str(SMOKE), "--results-dir", str(results)]
    assert main([*argv, *(f"--set={o}" for o in overrides)]) == 0
    (folder,) = results.iterdir()
    return folder


def test_the_report_shows_the_front_and_retrains_a_point_of_it(pareto_experiment):
    report = json.loads((pareto_experiment / "report.json").read_text())
    trials = load_trials(pareto_experiment)
    assert len(trials) == 4 and report["objective"]["metrics"] == [OBJECTIVE, depth_metric(1)]
    full, shallow = "sts_dev_best", "sts_dev_best_depth_1"
    front = {p["trial_id"] for p in report["pareto"]["front"]}
    scored = trials[trials["status"] != "errored"]
    for _, row in scored.iterrows():
        at_least = (scored[full] >= row[full]) & (scored[shallow] >= row[shallow])
        dominated = (at_least & ((scored[full] > row[full]) | (scored[shallow] > row[shallow]))).any()
        assert (row["trial_id"] in front) == (not dominated), row["trial_id"]
    picked = report["pareto"]["picked"]
    assert picked in front and report["best"]["trial_id"] == picked
    chosen = trials.set_index("trial_id").loc[picked]
    balanced = max(report["pareto"]["front"], key=lambda p: (p[full] + p[shallow]) / 2)
    assert balanced["trial_id"] == picked  # pick: balanced, the default
    assert report["best"]["config"]["kl_temperature"] == pytest.approx(chosen["kl_temperature"])
    text = (pareto_experiment / "report.md").read_text()
    assert "## Pareto front" in text and f"`{picked}` (retrained)" in text
    assert "](plot_pareto.png)" in text and (pareto_experiment / "plot_pareto.png").stat().st_size > 10_000
    assert report["default"]["test"] is None and "| reference defaults |" in text
