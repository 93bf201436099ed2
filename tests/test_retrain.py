"""`sweep retrain` on a finished smoke sweep, with the seed the sweep's trials trained with: the retrain
applies the sweep's selection rule to its own run, so it finds the winning trial's step and score again."""

from __future__ import annotations

import json
import shutil
import signal

import pytest

from sweep.cli import main
from sweep.config import yaml12

from .conftest import own_output

ARM_RUNS = ("best", "default", "defaults_at_best_trainer", "plain")  # the smoke recipe searches the learning rate


@pytest.fixture(scope="module")
def retrained_on_the_sweep_seed(smoke_experiment, tmp_path_factory):
    folder = tmp_path_factory.mktemp("retrain") / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    return folder


def _config(folder):
    return yaml12.load((folder / "config.yaml").read_text())  # as the sweep reads it: YAML 1.2


@pytest.fixture(scope="module")
def output(retrained_on_the_sweep_seed):
    import contextlib
    import io

    seed = _config(retrained_on_the_sweep_seed)["train"]["seed"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["retrain", str(retrained_on_the_sweep_seed), "--set", f"retrain.seeds=[{seed}]"]) == 0
    return printed.getvalue()


def test_a_retrain_override_is_saved_in_the_folder_for_what_comes_after(retrained_on_the_sweep_seed, output):
    config = _config(retrained_on_the_sweep_seed)
    assert config["retrain"]["seeds"] == [config["train"]["seed"]]
    report = json.loads((retrained_on_the_sweep_seed / "report.json").read_text())
    assert report["seeds"]["retrain"] == [config["train"]["seed"]]


def test_a_bad_retrain_override_exits_2_and_leaves_the_folder_as_it_was(smoke_experiment, tmp_path, capsys):
    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    assert main(["retrain", str(folder), "--set", "retrain.arms=[plain, untrained]"]) == 2
    err = own_output(capsys).err
    assert err.count("\n") == 1 and "retrain.arms" in err, err
    assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == before


def test_a_retrain_stopped_after_its_override_is_finished_by_resume_with_the_new_seeds(
    smoke_experiment, tmp_path, monkeypatch
):
    from sweep.runtime import signals
    from sweep.workflow import commands

    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    seed = json.loads((folder / "report.json").read_text())["seeds"]["retrain"][0]

    def stopped(*args, **kwargs):  # as a Ctrl-C arriving once the retrain has started
        raise signals.Interrupted(signal.SIGINT, str(folder))

    with monkeypatch.context() as patched:
        patched.setattr(commands, "retrain", stopped)
        assert main(["retrain", str(folder), "--set", f"retrain.seeds=[{seed}]"]) == 130
    assert _config(folder)["retrain"]["seeds"] == [seed] and not (folder / "retrain.json").exists()
    # Not taken for finished: the retrain runs again with the new seeds (its one seed's runs were kept).
    assert main(["resume", str(folder)]) == 0
    assert json.loads((folder / "report.json").read_text())["seeds"]["retrain"] == [seed]


def test_the_trials_own_seed_gives_back_the_winners_step_and_sts_dev(retrained_on_the_sweep_seed, output):
    report = json.loads((retrained_on_the_sweep_seed / "report.json").read_text())
    (run,) = report["test"]["per_seed"]
    assert run["seed"] == 12
    # CPU runs are deterministic: the same config and seed train the same model, evaluated at the same steps.
    assert run["chosen_step"] == report["best"]["step"] < run["steps"]
    assert run["sts_dev_chosen"] == pytest.approx(report["best"]["sts_dev_spearman"], abs=1e-9)


def test_a_retrain_on_the_sweep_seed_is_accepted_but_said(retrained_on_the_sweep_seed, output):
    report = json.loads((retrained_on_the_sweep_seed / "report.json").read_text())
    assert report["seeds"]["seen_by_sweep"] == [12]
    text = (retrained_on_the_sweep_seed / "report.md").read_text()
    assert "**Seed 12 is the sweep's own**" in text
    assert "note: retrain seed(s) [12] are the sweep's own training seed" in output


def test_one_seed_shows_no_spread_and_the_verdict_rests_on_the_test_pairs(retrained_on_the_sweep_seed, output):
    report = json.loads((retrained_on_the_sweep_seed / "report.json").read_text())
    assert report["test"]["std"]["spearman_cosine"] is None and report["test"]["per_layer_std"] == [None] * 4
    for entry in report["verdict"]["per_depth"]:
        components = entry["components"]
        assert components["seed_interval"] is None and components["seed_variance"] == 0
        assert "the seeds' noise is not measured" in entry["method"]
    text = (retrained_on_the_sweep_seed / "report.md").read_text()
    assert "± n/a" in text and "n/a (one seed)" in text and "± 0.00" not in text
    assert "one seed (12), so the spread is n/a" in text


def test_a_retrain_without_its_similarities_asks_for_a_new_retrain(smoke_experiment, tmp_path, capsys):
    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    (folder / "test_similarities.parquet").unlink()  # as a retrain written before the verdict existed left it
    assert main(["report", str(folder)]) == 2
    err = own_output(capsys).err
    assert err.count("\n") == 1 and "no test_similarities.parquet beside retrain.json; rerun `sweep retrain" in err


@pytest.mark.parametrize("damaged", ["test_similarities.parquet", "retrain.json"])
def test_a_damaged_result_file_is_one_line_and_exit_2(smoke_experiment, tmp_path, capsys, damaged):
    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    path = folder / damaged
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # cut short, as a full disk leaves it
    assert main(["report", str(folder)]) == 2
    err = own_output(capsys).err
    assert err.count("\n") == 1 and f"{damaged}: damaged" in err


def test_a_retrain_cut_short_runs_only_the_missing_runs(smoke_experiment, tmp_path, caplog):
    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    runs = folder / "retrain_runs"
    seeds = json.loads((folder / "report.json").read_text())["seeds"]["retrain"]
    _, second, third, *_ = seeds
    names = sorted(path.name for path in runs.iterdir())
    assert names == sorted([f"{arm}-seed{seed}.json" for arm in ARM_RUNS for seed in seeds] + ["untrained.json"])
    # As a driver that died during the retrain leaves the folder: some runs recorded, no retrain.json.
    (folder / "retrain.json").unlink()
    for name in (f"best-seed{second}.json", f"default-seed{third}.json", f"plain-seed{second}.json"):
        (runs / name).unlink()
    kept = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in runs.iterdir()}
    with caplog.at_level("INFO", logger="sweep"):
        assert main(["retrain", str(folder)]) == 0
    planned = len(ARM_RUNS) * len(seeds) + 1  # every trained arm per seed, and the untrained model
    assert f"retrain: {planned - 3} of {planned} runs kept from an earlier retrain, 3 to run" in caplog.text
    for name, (mtime, content) in kept.items():
        assert (runs / name).stat().st_mtime_ns == mtime and (runs / name).read_bytes() == content
    assert sorted(path.name for path in runs.iterdir()) == names
    # CPU runs are deterministic: the reruns score what the first retrain scored.
    before = json.loads((smoke_experiment / "report.json").read_text())
    after = json.loads((folder / "report.json").read_text())
    assert after["test"] == before["test"] and after["default"] == before["default"]
    assert after["verdict"] == before["verdict"] and after["attribution"] == before["attribution"]


@pytest.mark.parametrize(
    ("overrides", "same", "expected"),
    [
        ([], False, "20 full training runs (4 arms × 5 seeds) and the untrained model scored"),
        # The best config is the defaults: so is the loss's defaults at its trainer settings; plain MNRL is not.
        (["retrain.seeds=[1]"], True, "2 full training runs (2 arms × 1 seed) and the untrained model scored"),
        (
            ["retrain.defaults=false", "retrain.seeds=[1, 2]"],
            False,
            "2 full training runs (1 arm × 2 seeds) and the untrained model scored",
        ),
        (
            ["retrain.arms=[best, plain]"],
            False,
            "10 full training runs (2 arms × 5 seeds) and the untrained model scored",
        ),
    ],
)
def test_the_retrain_says_what_it_costs_in_full_training_runs(overrides, same, expected):
    from sweep.config.experiment import load_config
    from sweep.workflow.retrain import cost, plan_runs

    from .conftest import SMOKE

    config = load_config(SMOKE, overrides)
    default = config.reference
    best = default if same else {**default, "kl_temperature": 0.5, "learning_rate": 2 * default["learning_rate"]}
    assert cost(plan_runs(config, best, default)).startswith(expected + ", side by side")


def test_each_retrain_seed_trains_on_its_own_sample_where_the_training_split_has_a_limit():
    from sweep.config.experiment import load_config
    from sweep.workflow.retrain import training_data
    from trainables.data import StsPairs, TrialData, load_triplets

    from .conftest import SMOKE

    config = load_config(SMOKE, ["data.train.limit=100", "data.train.shuffle=7"])
    config = config.model_copy(update={"data": config.data.resolved()})
    sweep_rows = TrialData(load_triplets(config.data.train), StsPairs(["a", "b"], ["c", "d"], [0.0, 1.0]))
    seeds = config.retrain_seeds
    per_seed = training_data(config, sweep_rows, seeds)
    anchors = {seed: per_seed[seed].train["anchor"] for seed in seeds}
    assert all(len(rows) == 100 for rows in anchors.values())
    assert len({tuple(rows) for rows in anchors.values()}) == len(seeds)  # a sample of its own per seed
    assert per_seed[None] is sweep_rows and all(per_seed[seed].sts_dev is sweep_rows.sts_dev for seed in seeds)
    again = training_data(config, sweep_rows, seeds[:1])  # a resumed retrain draws the same rows
    assert again[seeds[0]].train["anchor"] == anchors[seeds[0]]
    whole = set(load_triplets(config.data.train.model_copy(update={"limit": None}))["anchor"])
    assert all(set(rows) <= whole for rows in anchors.values())
    # Off, or no limit: every seed trains on the sweep's rows.
    for overrides in (["retrain.resample_data=false"], []):
        same = load_config(SMOKE, overrides + (["data.train.limit=100"] if overrides else []))
        same = same.model_copy(update={"data": same.data.resolved()})
        assert all(rows is sweep_rows for rows in training_data(same, sweep_rows, seeds).values())


def test_a_retrain_written_before_the_arms_existed_still_reports(smoke_experiment, tmp_path, capsys):
    import pandas as pd

    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    record = json.loads((folder / "retrain.json").read_text())
    for key in ("arms", "defaults_at_best_trainer", "plain", "resampled_data", "cost"):
        del record[key]
    (folder / "retrain.json").write_text(json.dumps(record))
    similarities = pd.read_parquet(folder / "test_similarities.parquet")
    similarities[similarities["run"].isin(["best", "default", "untrained"])].to_parquet(
        folder / "test_similarities.parquet"
    )
    assert main(["report", str(folder)]) == 0
    report = json.loads((folder / "report.json").read_text())
    before = json.loads((smoke_experiment / "report.json").read_text())
    assert list(report["arms"]) == ["best", "defaults", "untrained"]
    assert report["attribution"]["total"] == before["attribution"]["total"] and report["verdict"] == before["verdict"]
    assert report["attribution"]["loss"] is None and report["attribution"]["adaptive"] is None
    out = own_output(capsys).out
    assert "loss: not judged, no defaults_at_best_trainer runs" in out and "`sweep retrain DIR` adds them" in out


def test_every_record_a_retrain_writes_is_its_model_key_for_key(retrained_on_the_sweep_seed, output):
    from pydantic import ValidationError

    from sweep.store.records import RetrainRecord, TrainedRun, UntrainedRun, json_record
    from sweep.store.report_json import Report

    folder = retrained_on_the_sweep_seed
    # Read back and written again, each file is what it was: the models name every key, in the file's order.
    for path in sorted((folder / "retrain_runs").glob("*.json")):
        record = json.loads(path.read_text())
        model = UntrainedRun if path.stem == "untrained" else TrainedRun
        assert json.dumps(json_record(model.model_validate(record))) == json.dumps(record), path.name
    retrain = json.loads((folder / "retrain.json").read_text())
    assert json.dumps(json_record(RetrainRecord.model_validate(retrain))) == json.dumps(retrain)
    report = json.loads((folder / "report.json").read_text())
    assert json.dumps(Report.model_validate(report).model_dump(mode="json")) == json.dumps(report)
    # The report's model takes no key it does not name, and misses none.
    with pytest.raises(ValidationError, match="extra"):
        Report.model_validate({**report, "surprise": 1})
    with pytest.raises(ValidationError, match="verdict"):
        Report.model_validate({key: value for key, value in report.items() if key != "verdict"})
