"""sweep analyze and the report: plots written and linked, importance, boundary warnings, and every number
in report.md taken from report.json."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from sweep.cli import main
from sweep.config.search_space import parse_space
from sweep.report.boundaries import boundary_warnings
from sweep.report.document import render_report_md
from sweep.report.figures import draw_plots
from sweep.report.importance import param_importance
from sweep.store.folder import IMPORTANCE_PLOT, ExperimentFolder
from sweep.store.ranking import standings
from trainables.metrics import METRIC_NAMES

from .conftest import ray_only_copy

PNG = b"\x89PNG\r\n\x1a\n"
SPACE = parse_space(
    {
        "kl_temperature": {"loguniform": [0.05, 2.0]},
        "last_layer_weight": {"uniform": [0.5, 2.0]},
        "n_layers_per_step": {"choice": [1, 2, -1]},
        "kl_div_weight": 1.0,
    }
)


def synthetic_trials(n: int, status: str = "completed") -> pd.DataFrame:
    """Trials whose score depends on kl_temperature only; the other parameters are noise."""
    rng = np.random.default_rng(0)
    kl = np.exp(rng.uniform(np.log(0.05), np.log(2.0), n))
    return pd.DataFrame(
        {
            "status": status,
            "kl_temperature": kl,
            "last_layer_weight": rng.uniform(0.5, 2.0, n),
            "n_layers_per_step": rng.choice([1, 2, -1], n),
            "kl_div_weight": 1.0,
            "sts_dev_best": 0.8 - 0.1 * np.abs(np.log(kl / 0.3)),
        }
    )


def test_fanova_finds_the_parameter_that_drives_the_score():
    result = param_importance(synthetic_trials(30), SPACE, "sts_dev_best")
    assert result["note"] is None and result["trials"] == 30
    values = result["values"]
    assert set(values) == {"kl_temperature", "last_layer_weight", "n_layers_per_step"}
    assert max(values, key=values.get) == "kl_temperature" and values["kl_temperature"] > 0.5
    assert sum(values.values()) == pytest.approx(1.0)


def test_importance_explains_why_it_has_nothing_to_say():
    pruned_only = param_importance(synthetic_trials(30, "pruned"), SPACE, "sts_dev_best")
    assert pruned_only["values"] == {} and "0 completed trials are too few" in pruned_only["note"]
    one = parse_space({"kl_temperature": {"loguniform": [0.05, 2.0]}})
    single = param_importance(synthetic_trials(30), one, "sts_dev_best")
    assert single["values"] == {} and "only one parameter is swept" in single["note"]
    flat = synthetic_trials(30).assign(sts_dev_best=0.5)
    assert "scored the same" in param_importance(flat, SPACE, "sts_dev_best")["note"]


def test_a_best_value_near_a_bound_is_warned_about_on_the_right_scale():
    best = {"kl_temperature": 0.06, "last_layer_weight": 1.9, "n_layers_per_step": -1, "kl_div_weight": 1.0}
    warnings = {w["param"]: w for w in boundary_warnings(SPACE, best)}
    # 0.06 is 5% of the way from 0.05 to 2.0 on a log scale: near the lower bound.
    assert warnings["kl_temperature"]["side"] == "lower" and warnings["last_layer_weight"]["side"] == "upper"
    assert "near the upper bound 2" in warnings["last_layer_weight"]["text"]
    assert set(warnings) == {"kl_temperature", "last_layer_weight"}  # choices and fixed values have no bounds
    middle = {**best, "kl_temperature": 0.3, "last_layer_weight": 1.25}
    assert boundary_warnings(SPACE, middle) == []
    floor = parse_space({"kl_div_weight": {"uniform": [0.0, 2.0]}})  # 0 is as low as a weight goes
    (warning,) = boundary_warnings(floor, {"kl_div_weight": 0.1})
    assert warning["text"].endswith("kl_div_weight cannot go past it")


def test_analyze_writes_every_plot_and_the_report_links_each_one(smoke_experiment, capsys):
    assert main(["analyze", str(smoke_experiment)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((smoke_experiment / "report.json").read_text())
    text = (smoke_experiment / "report.md").read_text()
    files = [plot["file"] for plot in report["plots"]]
    swept = ["kl_temperature", "last_layer_weight", "prior_layers_weight", "n_layers_per_step"]
    swept += ["layer_weighting", "learning_rate"]
    expected = ["plot_depth.png", "plot_history.png", "plot_learning_curves.png"]
    # Whether the importance plot is drawn depends on how many trials ASHA let finish, which on this
    # sweep depends on which of two concurrent trials reports first: the next two tests check both cases.
    assert [name for name in files if name != IMPORTANCE_PLOT] == expected + [f"plot_axis_{key}.png" for key in swept]
    for name in files:
        content = (smoke_experiment / name).read_bytes()
        assert content.startswith(PNG) and len(content) > 10_000, name
        assert f"]({name})" in text and name in printed
    assert sorted(p.name for p in smoke_experiment.glob("*.png")) == sorted(files)


def _plots_with_statuses(smoke_experiment, tmp_path, completed: int) -> list[str]:
    """The sweep's plots drawn into ``tmp_path`` as if only its first ``completed`` scored trials had run
    their full budget and ASHA had stopped the rest."""
    experiment = ExperimentFolder(smoke_experiment)
    config = experiment.config()
    trials, reports = experiment.results()
    scored = trials[trials["status"] != "errored"]
    statuses = ["completed" if i < completed else "pruned" for i in range(len(scored))]
    trials = scored.assign(status=statuses)
    ranking = standings(trials, reports, config.objective)
    return draw_plots(ExperimentFolder(tmp_path), config, trials, reports, ranking, None)


def test_the_importance_plot_is_drawn_once_enough_trials_ran_their_full_budget(smoke_experiment, tmp_path):
    written = _plots_with_statuses(smoke_experiment, tmp_path, completed=8)
    assert IMPORTANCE_PLOT in written
    assert (tmp_path / IMPORTANCE_PLOT).read_bytes().startswith(PNG)


def test_too_few_finished_trials_give_no_importance_plot_and_report_md_says_why(smoke_experiment, tmp_path):
    written = _plots_with_statuses(smoke_experiment, tmp_path, completed=3)
    assert IMPORTANCE_PLOT not in written and not (tmp_path / IMPORTANCE_PLOT).exists()
    report = json.loads((smoke_experiment / "report.json").read_text())
    note = "3 completed trials are too few for fANOVA (it needs 4)"
    report["importance"] = [{**entry, "values": {}, "note": note} for entry in report["importance"]]
    assert f"Not computed: {note}" in render_report_md(report)


def test_report_md_is_rendered_from_report_json_alone(smoke_experiment):
    report = json.loads((smoke_experiment / "report.json").read_text())
    assert (smoke_experiment / "report.md").read_text() == render_report_md(report)


def numbers_in(node, found=None):
    """Every number in report.json, written the ways report.md writes numbers."""
    found = set() if found is None else found
    if isinstance(node, dict):
        for value in node.values():
            numbers_in(value, found)
    elif isinstance(node, list):
        for value in node:
            numbers_in(value, found)
    elif isinstance(node, bool):
        pass
    elif isinstance(node, (int, float)):
        found |= {f"{100 * node:.2f}", f"{node:.2f}", f"{node:.4g}", f"{node:g}", f"{node:.1f}", str(node)}
    elif isinstance(node, str):
        found |= set(NUMBER.findall(node))
    return found


NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e-?\d+)?(?![\w.])")


def test_every_number_in_report_md_is_a_number_of_report_json(smoke_experiment):
    report = json.loads((smoke_experiment / "report.json").read_text())
    text = (smoke_experiment / "report.md").read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # the reproduction command is report.json's string
    allowed = numbers_in(report) | {"100"}  # "×100" is the unit of the correlation columns
    shown = NUMBER.findall(text)
    assert len(shown) > 100
    assert [n for n in shown if n not in allowed] == []
    # And the headline tables cell by cell: every trained arm (mean ± std over seeds), then the untrained model.
    trained = [arm["test"] for name, arm in report["arms"].items() if name != "untrained"]
    assert trained[:2] == [report["test"], report["default"]["test"]] and len(trained) == 4
    untrained = report["untrained"]["test"]
    for name in METRIC_NAMES:
        cells = [f"{100 * s['mean'][name]:.2f} ± {100 * s['std'][name]:.2f}" for s in trained]
        assert f"| {name} | {' | '.join(cells)} | {100 * untrained['mean'][name]:.2f} |" in text
    for i, depth in enumerate(report["depths"]):
        label = f"{depth} (full)" if depth == report["n_layers"] else str(depth)
        cells = [f"{100 * s['per_layer'][i]:.2f} ± {100 * s['per_layer_std'][i]:.2f}" for s in trained]
        verdict = report["verdict"]["per_depth"][i]
        assert f"| {label} | {' | '.join(cells)} | {100 * untrained['per_layer'][i]:.2f} | " in text
        assert f"| **{verdict['says']}** |" in text
    for row in report["leaderboard"]:
        cells = [row["status"], str(row["step"]), f"{100 * row['sts_dev_spearman_cosine']:.2f}", str(row["steps"])]
        assert f"| `{row['trial_id']}` | {' | '.join(cells)} |" in text


def test_analyze_on_a_crashed_sweep_draws_the_sweep_plots_without_a_report(smoke_experiment, tmp_path, capsys):
    folder = ray_only_copy(smoke_experiment, tmp_path / "crashed")
    assert main(["analyze", str(folder)]) == 0
    assert "no retrain yet" in capsys.readouterr().out
    written = sorted(p.name for p in folder.glob("*.png"))
    assert "plot_history.png" in written and "plot_learning_curves.png" in written
    assert "plot_depth.png" not in written and not (folder / "report.md").exists()


def test_analyze_refuses_a_folder_that_is_not_an_experiment(tmp_path, capsys):
    assert main(["analyze", str(tmp_path)]) == 2
    assert "no config.yaml" in capsys.readouterr().err
