"""End to end under objective.full_depth_margin: a shrunk smoke sweep (4 trials, one at a time, the winner
and the defaults retrained with one seed) ranked on depth 1 with margin 0, so that a trial may only win with
a full-depth STS-dev at least the reference defaults' trial's. Never an infeasible winner; Optuna's trials
carry the constraint the frames give. Where no trial is feasible, the run says so, delivers nothing, and
still reports the defaults and the untrained model."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil

import optuna
import pandas as pd
import pytest

from sweep.cli import main
from sweep.store.folder import STUDY_FILE, ExperimentFolder, load_reports, load_trials
from sweep.store.report_json import Report
from sweep.tracking.tracker import report_metrics
from sweep.tuning.study import RAY_TRIAL_ID, open_storage
from trainables.metrics import OBJECTIVE, depth_metric

from .conftest import smoke_in_process


@pytest.fixture(scope="module")
def constrained_experiment(ray_session, tmp_path_factory):
    results = tmp_path_factory.mktemp("constrained")
    overrides = [
        "objective.target=depth",
        "objective.depth=1",
        "objective.full_depth_margin=0",
        "search.num_samples=4",
        "search.max_concurrent=1",  # the defaults' trial reports before any other ends
        "retrain.arms=[best, defaults]",
        "retrain.seeds=[13]",
    ]
    return smoke_in_process(results, overrides)


def _chosen(reports, trial_id: str) -> dict:
    """The trial's evaluation with the best depth-1 score (the first of equals), as the sweep ranks it."""
    rows = reports[reports["trial_id"] == trial_id].sort_values("step")
    return rows.loc[rows[depth_metric(1)].idxmax()].to_dict()


def test_the_winner_is_feasible_and_beats_every_other_feasible_trial(constrained_experiment):
    report = json.loads((constrained_experiment / "report.json").read_text())
    trials, reports = load_trials(constrained_experiment), load_reports(constrained_experiment)
    defaults = trials.sort_values("trial_index").iloc[0]["trial_id"]  # the searcher's first point
    threshold = _chosen(reports, defaults)[OBJECTIVE]
    completed = trials.loc[trials["status"] == "completed", "trial_id"]
    feasible = {t: _chosen(reports, t)[OBJECTIVE] >= threshold for t in completed}
    constraint = report["constraint"]
    assert (constraint["reference_trial"], constraint["threshold"]) == (defaults, pytest.approx(threshold))
    assert {t: v["feasible"] for t, v in constraint["trials"].items()} == feasible
    assert constraint["feasible"] == sum(feasible.values()) and constraint["completed"] == len(feasible)
    winner = report["best"]["trial_id"]
    assert feasible[winner]  # never an infeasible winner
    best_feasible = max((t for t in feasible if feasible[t]), key=lambda t: _chosen(reports, t)[depth_metric(1)])
    assert winner == best_feasible
    text = (constrained_experiment / "report.md").read_text()
    assert f"**{constraint['feasible']} of {constraint['completed']} completed trials were feasible**" in text


def test_optuna_was_told_each_trials_constraint(constrained_experiment):
    config = ExperimentFolder(constrained_experiment).config()
    storage = open_storage(str(constrained_experiment / STUDY_FILE))
    study = optuna.load_study(study_name=config.search.study_name, storage=storage)
    report = json.loads((constrained_experiment / "report.json").read_text())
    threshold = report["constraint"]["threshold"]
    reports = load_reports(constrained_experiment)
    told = {t.user_attrs[RAY_TRIAL_ID]: t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")}
    assert told
    for trial_id, trial in told.items():
        assert trial.constraints == pytest.approx({"full_depth": threshold - _chosen(reports, trial_id)[OBJECTIVE]})


@pytest.fixture(scope="module")
def infeasible_folder(constrained_experiment, tmp_path_factory):
    """The constrained sweep as one with no feasible trial leaves it: the defaults' trial stopped by ASHA at
    a full-depth STS-dev of 1 (which no trial can reach), and nothing retrained or reported yet."""
    copied = ("retrain*", "test_similarities.parquet", "report.*", "best_model", "plot_*")
    folder = tmp_path_factory.mktemp("infeasible") / constrained_experiment.name
    shutil.copytree(constrained_experiment, folder, ignore=shutil.ignore_patterns(*copied))
    trials, reports = pd.read_parquet(folder / "trials.parquet"), pd.read_parquet(folder / "reports.parquet")
    defaults = trials.sort_values("trial_index").iloc[0]["trial_id"]
    trials.loc[trials["trial_id"] == defaults, ["status", "sts_dev_best"]] = ["pruned", 1.0]
    reports.loc[reports["trial_id"] == defaults, OBJECTIVE] = 1.0
    trials.to_parquet(folder / "trials.parquet", index=False)
    reports.to_parquet(folder / "reports.parquet", index=False)
    return folder


def _sweep(*argv: str) -> tuple[int, str]:
    """``sweep ARGV`` in this process: its exit status, and its log and stdout together as a job's log has them."""
    said = io.StringIO()
    handler = logging.StreamHandler(said)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logging.getLogger("sweep").addHandler(handler)
    try:
        with contextlib.redirect_stdout(said):
            status = main(list(argv))
    finally:
        logging.getLogger("sweep").removeHandler(handler)
    return status, said.getvalue()


@pytest.fixture(scope="module")
def infeasible_retrain(infeasible_folder):
    """`sweep retrain` of that folder: its exit status and what it said."""
    return _sweep("retrain", str(infeasible_folder))


def _line(folder) -> str:
    completed = int((pd.read_parquet(folder / "trials.parquet")["status"] == "completed").sum())
    return (
        f"no feasible trial: of {completed} completed, none reached full-depth STS-dev 1.0000 (the reference "
        "defaults' 1.0000 minus objective.full_depth_margin 0); no config to deliver (`sweep simulate DIR --set "
        "objective.full_depth_margin=...` says what a looser margin would pick)"
    )


def test_with_no_feasible_trial_the_retrain_says_so_trains_the_defaults_and_exits_1(
    infeasible_folder, infeasible_retrain
):
    status, said = infeasible_retrain
    assert status == 1
    assert f"sweep: {_line(infeasible_folder)}\n" in said
    assert "retrain: 1 full training run (1 arm × 1 seed) and the untrained model scored" in said
    runs = sorted(path.name for path in (infeasible_folder / "retrain_runs").iterdir())
    assert runs == ["default-seed13.json", "untrained.json"]  # the arms that need no winner, trained for real
    assert not (infeasible_folder / "best_model").exists()
    retrained = ExperimentFolder(infeasible_folder).retrained().record  # read back through its schema
    assert retrained["best"] is None and retrained["best_config"] is None and len(retrained["default"]) == 1
    last = said.rstrip("\n").splitlines()[-2:]
    assert last[0].startswith("No trial was feasible, so nothing is delivered (no best config, no best_model/)")
    assert "`sweep simulate DIR --set objective.full_depth_margin=...`" in last[1]


def test_with_no_feasible_trial_the_report_gives_the_defaults_and_the_untrained_model_only(
    infeasible_folder, infeasible_retrain
):
    report = json.loads((infeasible_folder / "report.json").read_text())
    run = json.loads((infeasible_folder / "retrain_runs" / "default-seed13.json").read_text())
    for key in ("best", "test", "delivered", "model_path", "verdict", "default_is_best"):
        assert report[key] is None, key
    assert set(report["attribution"]) == {"total", "loss", "trainer", "adaptive"}
    assert not any(report["attribution"].values())
    assert report["no_feasible"]["text"] == _line(infeasible_folder)
    assert report["no_feasible"]["threshold"] == report["constraint"]["threshold"] == 1.0
    assert report["constraint"]["feasible"] == 0 and report["no_feasible"]["completed"] > 0
    assert set(report["arms"]) == {"defaults", "untrained"}
    assert report["default"]["test"]["spearman_cosine"] == pytest.approx(run["test"]["spearman_cosine"])
    assert report["arms"]["defaults"]["test"]["per_layer"] == pytest.approx(run["test_per_depth"])
    untrained = json.loads((infeasible_folder / "retrain_runs" / "untrained.json").read_text())["test"]
    assert report["untrained"]["test"]["per_layer"] == pytest.approx(untrained["per_depth"])
    assert ExperimentFolder(infeasible_folder).report()["no_feasible"]["completed"] > 0  # reads back too
    # Every key its model names, the ones that need a winner null, the constraint's figures after no_feasible's.
    assert json.dumps(Report.model_validate(report).model_dump(mode="json")) == json.dumps(report)
    assert list(report["no_feasible"])[3:] == list(report["constraint"])[: len(report["no_feasible"]) - 3]


def test_with_no_feasible_trial_report_md_says_so_first_then_gives_the_depth_table(
    infeasible_folder, infeasible_retrain
):
    text = (infeasible_folder / "report.md").read_text()
    title, blank, sentence = text.splitlines()[:3]
    assert title.startswith("# Adaptive-layer sweep") and not blank
    assert sentence.startswith("**No trial was feasible, so nothing is delivered (no best config, no best_model/)")
    depth_table = text.index("## STS-test spearman_cosine by depth")
    assert depth_table < text.index("## Recipe")
    assert "| layers | reference defaults | untrained |" in text[depth_table:]
    assert "best_model/" not in text.split("## Reproduce")[1]


def test_sweep_report_rewrites_the_same_report_and_exits_0_and_sweep_resume_exits_1(
    infeasible_folder, infeasible_retrain
):
    before = (infeasible_folder / "report.json").read_text()
    status, said = _sweep("report", str(infeasible_folder))
    assert status == 0 and "No trial was feasible, so nothing is delivered" in said
    assert (infeasible_folder / "report.json").read_text() == before
    status, said = _sweep("resume", str(infeasible_folder))  # finished: only its report is rewritten
    assert status == 1 and (infeasible_folder / "report.json").read_text() == before
    status, said = _sweep("status", "--json", str(infeasible_folder))
    assert status == 0 and json.loads(said)["best"]["feasible"] is False and json.loads(said)["delivered"] is False
    status, said = _sweep("status", str(infeasible_folder))
    assert status == 0 and "delivered: nothing, as no trial was feasible" in said
    assert not (infeasible_folder / "best_model").exists()


def test_with_no_feasible_trial_the_trackers_get_the_defaults_and_the_untrained_models_figures(
    infeasible_folder, infeasible_retrain
):
    report = json.loads((infeasible_folder / "report.json").read_text())
    metrics = report_metrics(report)
    assert "test_spearman_cosine" not in metrics and "best_sts_dev_spearman" not in metrics
    assert metrics["default_test_spearman_cosine"] == report["default"]["test"]["spearman_cosine"]
    assert metrics["untrained_test_spearman_cosine_depth_1"] == report["untrained"]["test"]["per_layer"][0]


def test_a_model_left_by_an_earlier_retrain_is_named_in_one_warning_and_not_delivered(
    infeasible_folder, infeasible_retrain, constrained_experiment, tmp_path
):
    folder = tmp_path / infeasible_folder.name
    shutil.copytree(infeasible_folder, folder)
    shutil.copytree(constrained_experiment / "best_model", folder / "best_model")  # as a retrain at margin 0 left it
    status, said = _sweep("report", str(folder))
    assert status == 0
    assert (
        f"sweep: {folder}/best_model is left from an earlier retrain: no trial is feasible now, so this report "
        "delivers no model; remove it, so that nothing picks it up\n"
    ) in said
    assert json.loads((folder / "report.json").read_text())["model_path"] is None
    card = (folder / "best_model" / "README.md").read_bytes()
    assert card == (constrained_experiment / "best_model" / "README.md").read_bytes()  # no card for it either
