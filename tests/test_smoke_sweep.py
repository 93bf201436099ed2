"""End to end: the smoke recipe through the command line, then its files checked against the contract."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from sweep.cli import main
from sweep.report.comparison import attribution_lines, left_out
from sweep.report.comparison import verdict_lines as _verdict_lines

REQUIRED_KEYS = [
    "trials.total",
    "trials.completed",
    "trials.pruned",
    "trials.errored",
    "best.config",
    "best.sts_dev_spearman",
    "test.spearman_cosine",
    "test.per_seed",
    "test.per_layer",
    "default.test.spearman_cosine",
    "default.test.per_layer",
    "model_path",
    "command",
]


def lookup(report, dotted):
    node = report
    for part in dotted.split("."):
        node = node[part]
    return node


def spearman_values(node, key=""):
    """Every number under a key that names a spearman correlation, anywhere in the report."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from spearman_values(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from spearman_values(item, key)
    elif isinstance(node, float) and ("spearman" in key or "per_layer" in key):
        yield node


def test_every_trial_is_accounted_for_and_asha_pruned_some(smoke_experiment):
    trials = pd.read_parquet(smoke_experiment / "trials.parquet")
    report = json.loads((smoke_experiment / "report.json").read_text())
    assert len(trials) == report["trials"]["total"] == 8
    counts = trials["status"].value_counts().to_dict()
    assert report["trials"]["completed"] == counts.get("completed", 0) >= 1
    assert report["trials"]["pruned"] == counts.get("pruned", 0) >= 1
    assert report["trials"]["errored"] == counts.get("errored", 0) == 0
    pruned = trials[trials["status"] == "pruned"]
    assert (pruned["steps"] < pruned["total_steps"]).all()
    completed = trials[trials["status"] == "completed"]
    assert (completed["steps"] == completed["total_steps"]).all() and (completed["evaluations"] == 4).all()


def test_the_reference_defaults_were_the_first_trial(smoke_experiment):
    first = pd.read_parquet(smoke_experiment / "trials.parquet").iloc[0]
    assert (first["kl_temperature"], first["n_layers_per_step"], first["layer_weighting"]) == (0.3, 1, "uniform")
    assert (first["last_layer_weight"], first["prior_layers_weight"], first["kl_div_weight"]) == (1.0, 1.0, 1.0)


def test_report_has_every_contract_key_with_plain_numbers(smoke_experiment):
    report = json.loads((smoke_experiment / "report.json").read_text())
    for key in REQUIRED_KEYS:
        assert lookup(report, key) is not None, key
    assert isinstance(report["test"]["spearman_cosine"], float)
    assert len(report["test"]["per_layer"]) == len(report["default"]["test"]["per_layer"]) == 4
    assert report["test"]["per_layer"][-1] == pytest.approx(report["test"]["spearman_cosine"])
    assert report["command"].startswith("python -m sweep run ")
    values = list(spearman_values(report))
    assert len(values) > 30
    assert all(math.isfinite(v) and -1 <= v <= 1 for v in values)


def test_best_is_the_completed_trial_with_the_best_sts_dev_at_any_evaluation(smoke_experiment):
    report = json.loads((smoke_experiment / "report.json").read_text())
    trials = pd.read_parquet(smoke_experiment / "trials.parquet")
    reports = pd.read_parquet(smoke_experiment / "reports.parquet")
    completed = trials.loc[trials["status"] == "completed", "trial_id"]
    rows = reports[reports["trial_id"].isin(completed)]
    winner = rows.loc[rows["sts_dev_spearman_cosine"].idxmax()]
    assert report["best"]["sts_dev_spearman"] == pytest.approx(winner["sts_dev_spearman_cosine"])
    assert (report["best"]["trial_id"], report["best"]["step"]) == (winner["trial_id"], winner["step"])
    best = trials.set_index("trial_id").loc[winner["trial_id"]]
    assert report["best"]["config"]["kl_temperature"] == pytest.approx(best["kl_temperature"])


def test_best_model_reloads_and_reproduces_its_reported_sts_test(smoke_experiment, smoke_data):
    from sentence_transformers import SentenceTransformer

    from trainables.evaluation import evaluate_sts

    report = json.loads((smoke_experiment / "report.json").read_text())
    model = SentenceTransformer(str(smoke_experiment / report["model_path"]), device="cpu")
    result = evaluate_sts(model, smoke_data[1])
    first_seed = report["test"]["per_seed"][0]
    assert result["full"]["spearman_cosine"] == pytest.approx(first_seed["spearman_cosine"], abs=1e-6)
    assert result["per_depth"] == pytest.approx(first_seed["per_layer"], abs=1e-6)
    assert (smoke_experiment / report["model_path"] / "README.md").is_file()


def test_the_markdown_report_shows_the_same_numbers(smoke_experiment):
    report = json.loads((smoke_experiment / "report.json").read_text())
    text = (smoke_experiment / "report.md").read_text()
    assert report["command"] in text
    assert f"{100 * report['test']['mean']['spearman_cosine']:.2f}" in text
    assert f"{100 * report['default']['test']['per_layer'][0]:.2f}" in text
    assert "| 8 | {completed} | {pruned} | 0 |".format(**report["trials"]) in text


def test_the_delivered_models_card_carries_its_sts_metrics_and_the_sweeps_answer(smoke_experiment):
    """Read back with huggingface_hub's own card parser: the model-index holds the delivered model's ten
    STS metrics on STS-dev and STS-test, equal to report.json's; the body gives the recipe and the verdict."""
    from huggingface_hub import ModelCard

    from sweep.report.model_card import SECTION
    from trainables.metrics import METRIC_NAMES

    report = json.loads((smoke_experiment / "report.json").read_text())
    card = ModelCard.load(smoke_experiment / "best_model" / "README.md")
    found = {(r.dataset_type, r.metric_type): r.metric_value for r in card.data.eval_results}
    delivered = report["delivered"]
    first = report["test"]["per_seed"][0]  # the delivered model is the first seed's run
    assert delivered["seed"] == first["seed"] and all(delivered["test"][m] == first[m] for m in METRIC_NAMES)
    expected = {("sts-test", m): delivered["test"][m] for m in METRIC_NAMES}
    expected |= {("sts-dev", m): delivered["sts_dev"][m] for m in METRIC_NAMES}
    assert found == pytest.approx(expected) and len(found) == 20
    assert "sentence-transformers" in card.data.tags  # what sentence-transformers wrote stays
    assert card.text.count(SECTION) == 1 and report["command"] in card.text
    assert all(line in card.text for line in _verdict_lines(report))
    assert all(line.strip() in card.text for line in attribution_lines(report))
    for name, arm in report["arms"].items():  # the depth table: every arm beside the delivered config
        assert f"{100 * arm['test']['per_layer'][0]:.2f}" in card.text, name
    assert "AdaptiveLayerLoss(MultipleNegativesRankingLoss)" in card.text and "nli_train.jsonl" in card.text
    assert report["recipe"]["data"]["train"]["source"] not in card.text  # no folder of the driver's machine


@pytest.mark.parametrize("damage", [b"---\nfoo: [unclosed\n---\n", b"\xff\xfe not text"])
def test_a_damaged_model_card_is_written_afresh_by_sweep_report(smoke_experiment, tmp_path, damage):
    import shutil

    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    (folder / "best_model" / "README.md").write_bytes(damage)
    assert main(["report", str(folder)]) == 0
    text = (folder / "best_model" / "README.md").read_text()
    assert text.count("## Adaptive-layer sweep") == 1 and "model-index" in text


def test_sweep_report_rewrites_the_same_report_and_ends_with_the_verdict(smoke_experiment, capsys):
    before = (smoke_experiment / "report.json").read_text()
    (smoke_experiment / "report.json").unlink()
    assert main(["report", str(smoke_experiment)]) == 0
    assert (smoke_experiment / "report.json").read_text() == before
    assert (smoke_experiment / "best_model" / "README.md").read_text().count("## Adaptive-layer sweep") == 1
    out = capsys.readouterr().out
    assert "STS-test spearman_cosine" in out
    expected = _answer_lines(json.loads(before))
    tail = out.strip().splitlines()[-len(expected) - 1 :]
    assert tail[:-1] == expected and "bootstrap" in tail[-1] and expected[0].startswith("  loss settings (best − ")


def _answer_lines(report: dict) -> list[str]:
    """What the CLI ends with: each difference's objective verdict and its depths, the loss settings' first."""
    return [f"  {line}" for line in [*attribution_lines(report), *left_out(report)]]


def test_the_folder_is_a_ray_tune_experiment_that_can_be_restored(smoke_experiment):
    from ray import tune

    assert tune.Tuner.can_restore(str(smoke_experiment))
    assert not list(Path(smoke_experiment).glob("trial_*/checkpoint_*"))  # the sweep writes no checkpoints


def test_each_retrain_records_the_step_it_delivered_and_its_end_of_budget_score(smoke_experiment):
    report = json.loads((smoke_experiment / "report.json").read_text())
    evaluated_steps = {4, 8, 12, 13}  # every eval_steps (4) and the last of 13 steps
    runs = report["test"]["per_seed"] + report["default"]["test"]["per_seed"]
    early = [run for run in runs if run["chosen_step"] < run["steps"]]
    assert early  # the smoke runs peak before their end, so the delivered weights are not the last ones
    assert all(run["final"] != run["spearman_cosine"] for run in early)
    for summary in (report["test"], report["default"]["test"]):
        for run in summary["per_seed"]:
            assert run["chosen_step"] in evaluated_steps and run["steps"] == 13
            assert run["sts_dev_chosen"] >= run["sts_dev_final"]
            assert run["objective_chosen"] == {"sts_dev_spearman_cosine": run["sts_dev_chosen"]}  # the full target
            if run["chosen_step"] == run["steps"]:
                assert run["final"] == run["spearman_cosine"]
        assert summary["final_spearman_cosine"] == pytest.approx(
            sum(run["final"] for run in summary["per_seed"]) / len(summary["per_seed"])
        )
    # The retrain's own seeds, none of them the seed the trials trained with.
    assert report["seeds"] == {"sweep": [12], "retrain": [13, 14, 15, 16, 17], "seen_by_sweep": []}


def test_the_untrained_base_model_is_scored_once_on_both_splits(smoke_experiment, smoke_data, tiny_model):
    from trainables.evaluation import evaluate_sts

    report = json.loads((smoke_experiment / "report.json").read_text())
    untrained = report["untrained"]
    for split, pairs in (("sts_dev", smoke_data[0].sts_dev), ("test", smoke_data[1])):
        expected = evaluate_sts(tiny_model, pairs)  # the tiny model starts from fixed weights
        assert untrained[split]["per_layer"] == pytest.approx(expected["per_depth"], abs=1e-6)
        assert untrained[split]["spearman_cosine"] == pytest.approx(expected["full"]["spearman_cosine"], abs=1e-6)


def test_every_arm_is_retrained_and_every_difference_judged_at_every_depth(smoke_experiment):
    report = json.loads((smoke_experiment / "report.json").read_text())
    arms = report["arms"]
    assert list(arms) == ["best", "defaults", "defaults_at_best_trainer", "plain", "untrained"]
    best, default = report["best"]["config"], report["default"]["config"]
    assert arms["best"]["test"] == report["test"] and arms["defaults"]["test"] == report["default"]["test"]
    assert arms["untrained"]["test"]["per_layer"] == report["untrained"]["test"]["per_layer"]
    # The smoke recipe searches the learning rate: the loss's defaults at the winner's learning rate, and
    # plain MultipleNegativesRankingLoss (no AdaptiveLayerLoss values at all) at the winner's trainer knobs.
    assert arms["defaults_at_best_trainer"]["config"] == {**default, "learning_rate": best["learning_rate"]}
    assert arms["plain"]["config"] == {
        "learning_rate": best["learning_rate"],
        "warmup_ratio": best["warmup_ratio"],
        "batch_size": best["batch_size"],
        "adaptive_layer": False,
    }
    assert all(arm["runs_of"] == name and arm["note"] is None for name, arm in arms.items())
    for name in ("defaults_at_best_trainer", "plain"):
        runs = arms[name]["test"]["per_seed"]
        assert [run["seed"] for run in runs] == report["seeds"]["retrain"] and len(runs[0]["per_layer"]) == 4
    assert report["attribution_order"] == ["loss", "trainer", "total", "adaptive"]
    pairs = {"total": ("best", "defaults"), "loss": ("best", "defaults_at_best_trainer")}
    pairs |= {"trainer": ("defaults_at_best_trainer", "defaults"), "adaptive": ("best", "plain")}
    for key, (minuend, subtrahend) in pairs.items():
        found = report["attribution"][key]
        assert found["arms"] == [minuend, subtrahend] and len(found["per_depth"]) == 4
        for i, entry in enumerate(found["per_depth"]):
            gap = arms[minuend]["test"]["per_layer"][i] - arms[subtrahend]["test"]["per_layer"][i]
            assert entry["delta"] == pytest.approx(gap, abs=1e-9)
            assert set(entry) >= {"says", "delta", "interval", "adjusted_interval", "method", "components"}
        assert found["objective"]["says"] in ("better", "worse", "equivalent", "inconclusive")
    total = report["attribution"]["total"]
    assert report["verdict"]["per_depth"] == total["per_depth"] and report["verdict"]["objective"] == total["objective"]
    # The parts add up to the whole: (best − dabt) + (dabt − defaults) = best − defaults, seed by seed.
    parts = report["attribution"]["loss"]["objective"]["delta"] + report["attribution"]["trainer"]["objective"]["delta"]
    assert parts == pytest.approx(total["objective"]["delta"], abs=1e-9)
    text = (smoke_experiment / "report.md").read_text()
    header = text.split("## Recipe")[0]
    assert header.index("- loss settings") < header.index("- trainer settings") < header.index("- total (")


def test_the_verdict_covers_full_depth_and_every_depth_and_matches_the_means(smoke_experiment):
    report = json.loads((smoke_experiment / "report.json").read_text())
    verdict = report["verdict"]
    assert [v["depth"] for v in verdict["per_depth"]] == [1, 2, 3, 4] and verdict["full"] == verdict["per_depth"][-1]
    margin = verdict["margin"]
    for i, entry in enumerate(verdict["per_depth"]):
        gap = report["test"]["per_layer"][i] - report["default"]["test"]["per_layer"][i]
        assert entry["delta"] == pytest.approx(gap, abs=1e-9)
        low, high = entry["adjusted_interval"]
        assert low <= entry["interval"][0] <= entry["delta"] <= entry["interval"][1] <= high  # adjusted: wider
        within = -margin <= low and high <= margin
        assert entry["says"] == (
            "better" if low > 0 else "worse" if high < 0 else "equivalent" if within else "inconclusive"
        )
        components = entry["components"]
        assert len(components["per_seed_delta"]) == 5 and components["seed_interval"] is not None
        assert "Bonferroni over 4 depths" in entry["method"]
    objective = verdict["objective"]  # the primary comparison: the sweep's objective, on STS-test
    deltas = [entry["delta"] for entry in verdict["per_depth"]]
    weights = {"full": [0, 0, 0, 1], "mean_depths": [0.25] * 4}[report["objective"]["target"]]
    assert objective["delta"] == pytest.approx(sum(w * d for w, d in zip(weights, deltas, strict=True)))
    assert objective["says"] in ("better", "worse", "equivalent", "inconclusive") and margin == 0.005
    text = (smoke_experiment / "report.md").read_text()
    header = text.split("## Recipe")[0]
    assert "**Verdict**" in header and all(f"- {line}" in header for line in _verdict_lines(report))


def test_the_run_prints_a_line_per_trial_event_and_ends_with_the_report_and_the_verdict(smoke_run):
    """What a person (or a job's log) sees of `python -m sweep run`, its output not a terminal."""
    lines = smoke_run.output.splitlines()
    assert len(lines) < 60, smoke_run.output
    assert sum(" started: " in line for line in lines) == 8
    ended = [line for line in lines if re.match(r"sweep: trial \w+ (completed|pruned|errored) at step \d+/13", line)]
    assert len(ended) == 8
    progress = [line for line in lines if re.match(r"sweep: \d/8 done \(\d completed, \d pruned, \d errored\)", line)]
    assert len(progress) >= 8 and progress[-1].startswith("sweep: 8/8 done (")
    assert "about" in progress[-2] and "left" in progress[-2]
    # Nothing of Ray's own: no status tables, no token-auth notice, no Optuna study line.
    assert not [line for line in lines if re.search(r"[╭│╰]|Trial status|Token authentication|new study", line)]
    report = json.loads((smoke_run.folder / "report.json").read_text())
    answer = _answer_lines(report)
    assert lines[-len(answer) - 3].endswith(f"{smoke_run.folder.name}/report.md")
    assert lines[-len(answer) - 2].startswith("what caused the difference")
    assert lines[-len(answer) - 1 : -1] == answer and "bootstrap" in lines[-1]
    # What the retrain cost, said at the end too: every trained arm with every seed.
    assert f"retrain: {report['retrain_cost']}" in lines and report["retrain_cost"].startswith(
        "20 full training runs (4 arms × 5 seeds) and the untrained model scored, side by side"
    )
