"""Damaged or foreign experiment folders: a file that parses but has another shape, an entry of the wrong
kind, a name in Ray's state that leads out of the folder. Each command that reads the folder answers with
exit status 2 and one line naming the file and what rebuilds it; no traceback, and no file of the folder
is written, removed or changed."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sweep.cli import main
from tests.conftest import own_output, ray_only_copy

Damage = Callable[[Path], None]


def _json(path: Path, change: Callable[[object], object]) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def _write(text: str) -> Damage:
    return lambda path: path.write_text(text)


def _edit(change: Callable[[dict], None]) -> Damage:
    def damage(path: Path) -> None:
        def changed(record):
            change(record)
            return record

        _json(path, changed)

    return damage


def _frame(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Damage:
    def damage(path: Path) -> None:
        buffer = io.BytesIO()
        change(pd.read_parquet(path)).to_parquet(buffer, index=False)
        path.write_bytes(buffer.getvalue())

    return damage


def _as_text(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda frame: frame.assign(**{column: frame[column].map(lambda value: f"{value:.4f}")})


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside.txt").write_text("a file, so the folder is no empty leftover")


def _file(path: Path) -> None:
    shutil.rmtree(path)
    path.write_text("a file where a folder belongs")


def _drop_key(key: str) -> Callable[[dict], None]:
    return lambda record: record.pop(key)


def _drop_metric(record: dict) -> None:
    del record["best"][0]["test"]["spearman_cosine"]


def _empty_best(record: dict) -> None:
    record["best"] = []


def _best_runs_lost(record: dict) -> None:
    record["best"] = None  # as a retrain with no feasible trial writes it, but beside a best config


def _n_layers_as_text(meta: dict) -> None:
    meta["n_layers"] = str(meta["n_layers"])


def _n_layers_beyond_any_model(meta: dict) -> None:
    meta["n_layers"] = 10**20  # loops over depths 1..L would never end (status was killed for its memory)


READERS = ("report", "analyze", "status", "simulate")  # read the folder without starting Ray
# file, how it is damaged, the commands that must refuse it, and what the line says of the file.
FINISHED = [
    ("experiment.json", "an empty object", _write("{}"), (*READERS, "resume"), "damaged (command: missing)"),
    ("experiment.json", "the depth as text", _edit(_n_layers_as_text), ("report", "simulate"), "n_layers: Input"),
    (
        "experiment.json",
        "a depth beyond any model",
        _edit(_n_layers_beyond_any_model),
        ("report", "status"),
        "n_layers: Input should be less than or equal to 1024",
    ),
    ("retrain.json", "an empty object", _write("{}"), ("report", "analyze", "resume"), "damaged (best: missing)"),
    ("retrain.json", "a list", _write("[]"), ("report", "analyze"), "damaged (a JSON list where an object belongs)"),
    ("retrain.json", "no best runs", _edit(_empty_best), ("report",), "damaged (best: List should have at least"),
    (
        "retrain.json",
        "no best runs beside a best config",
        _edit(_best_runs_lost),
        ("report",),
        "damaged (best and best_config: one is null, the other not)",
    ),
    ("retrain.json", "a run without a metric", _edit(_drop_metric), ("report",), "best.0.test: no spearman_cosine"),
    ("retrain.json", "no untrained model", _edit(_drop_key("untrained")), ("report",), "untrained: missing"),
    (
        "trials.parquet",
        "other columns",
        _frame(lambda frame: pd.DataFrame({"trial": frame["trial_id"], "score": frame["sts_dev_best"]})),
        (*READERS, "retrain", "resume"),
        "damaged (no column trial_index)",
    ),
    (
        "trials.parquet",
        "scores as text",
        _frame(_as_text("sts_dev_best")),
        (*READERS,),
        "damaged (column sts_dev_best holds",
    ),
    (
        "reports.parquet",
        "scores as text",
        _frame(_as_text("sts_dev_spearman_cosine")),
        (*READERS,),
        "damaged (column sts_dev_spearman_cosine holds",
    ),
    (
        "test_similarities.parquet",
        "no similarities",
        _frame(lambda frame: frame.drop(columns="cosine")),
        ("report", "analyze"),
        "damaged (no column cosine)",
    ),
    (
        "test_similarities.parquet",
        "one run's rows lost",
        _frame(lambda frame: frame[frame["run"] != "plain"]),
        ("report",),
        "damaged (no similarities of run plain",
    ),
    ("report.json", "a folder", _folder, ("report", "analyze"), "a folder where a file belongs"),
    ("report.md", "a folder", _folder, ("report",), "a folder where a file belongs"),
    ("best_model", "a file", _file, ("report", "analyze"), "a file where a folder belongs"),
    ("retrain_runs", "a file", _file, ("retrain",), "a file where a folder belongs"),
]
REMEDIES = {
    "experiment.json": "nothing rebuilds it",
    "retrain.json": "`sweep retrain {folder}` rebuilds it",
    "test_similarities.parquet": "`sweep retrain {folder}` rebuilds it",
    "trials.parquet": "`sweep resume {folder}` rebuilds trials.parquet and reports.parquet",
    "reports.parquet": "`sweep resume {folder}` rebuilds trials.parquet and reports.parquet",
    "report.json": "`sweep report {folder}` rewrites it",
    "report.md": "`sweep report {folder}` rewrites it",
    "best_model": "`sweep retrain {folder}` rebuilds it",
    "retrain_runs": "`sweep retrain {folder}` rebuilds it",
}


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _refused(folder: Path, command: str, capsys) -> str:
    """The line ``sweep COMMAND FOLDER`` printed, once it has exited with 2 and left every file as it was."""
    before = _snapshot(folder)
    own_output(capsys)
    assert main([command, str(folder)]) == 2
    captured = own_output(capsys)
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("sweep: error: ")
    assert "Traceback" not in captured.err
    assert _snapshot(folder) == before  # nothing written, removed or changed: the damaged file neither
    return captured.err


def _cases(table):
    return [
        pytest.param(name, damage, command, said, id=f"{name}-{how.replace(' ', '_')}-{command}")
        for name, how, damage, commands, said in table
        for command in commands
    ]


class TestAFinishedFolderWithADamagedFile:
    @pytest.mark.parametrize(("name", "damage", "command", "said"), _cases(FINISHED))
    def test_is_refused_in_one_line_naming_the_file_and_what_rebuilds_it(
        self, smoke_experiment, tmp_path, capsys, name, damage, command, said
    ):
        folder = tmp_path / smoke_experiment.name
        shutil.copytree(smoke_experiment, folder)
        damage(folder / name)
        line = _refused(folder, command, capsys)
        assert f"{folder}/{name}: " in line and said in line
        assert REMEDIES[name].format(folder=folder) in line


def _state_file(folder: Path) -> Path:
    (state,) = folder.glob("experiment_state-*.json")
    return state


def _no_trial_data(folder: Path) -> Path:
    state = _state_file(folder)
    _json(state, lambda record: {key: value for key, value in record.items() if key != "trial_data"})
    return state


def _trial_state(folder: Path, change: Callable[[dict, dict], None]) -> Path:
    """Ray's state with the first trial's state and runtime changed by ``change``."""
    state = _state_file(folder)
    record = json.loads(state.read_text())
    trial, runtime = (json.loads(part) for part in record["trial_data"][0])
    change(trial, runtime)
    record["trial_data"][0] = [json.dumps(trial), json.dumps(runtime)]
    state.write_text(json.dumps(record))
    return state


def _without_trial_id(folder: Path) -> Path:
    return _trial_state(folder, lambda trial, runtime: trial.pop("trial_id"))


def _failures_as_text(folder: Path) -> Path:
    return _trial_state(folder, lambda trial, runtime: runtime.update(num_failures="2"))


def _outside_error(relative_logdir: str, error_filename: str) -> Callable[[Path], Path]:
    """One more trial in Ray's state, ended in ERROR, whose error file the state names outside the folder,
    where a secret lies (read as it was, its text would be the trial's error in trials.parquet)."""

    def damage(folder: Path) -> Path:
        (folder.parent / "secret").mkdir(exist_ok=True)
        (folder.parent / "secret" / "error.txt").write_text("SECRET-TEXT\n")
        (folder.parent / "error.txt").write_text("SECRET-TEXT\n")
        state = _state_file(folder)
        record = json.loads(state.read_text())
        trial, runtime = (json.loads(part) for part in record["trial_data"][0])
        trial.update(trial_id="outside", status="ERROR", relative_logdir=relative_logdir)
        runtime.update(error_filename=error_filename)
        record["trial_data"].append([json.dumps(trial), json.dumps(runtime)])
        state.write_text(json.dumps(record))
        return state

    return damage


def _linked_error(folder: Path) -> Path:
    """A trial recorded as ERROR whose error file is a link to a file outside the folder."""
    (folder.parent / "secret.txt").write_text("SECRET-TEXT\n")

    def change(trial: dict, runtime: dict) -> None:
        trial.update(status="ERROR")
        runtime.update(error_filename="error.txt")

    state = _trial_state(folder, change)
    trial_id = json.loads(json.loads(state.read_text())["trial_data"][0][0])["trial_id"]
    link = folder / f"trial_{trial_id}" / "error.txt"
    os.symlink(folder.parent / "secret.txt", link)
    return link


def _score_as_text(folder: Path) -> Path:
    (result, *_) = sorted(folder.glob("trial_*/result.json"))
    lines = result.read_text().splitlines()
    row = json.loads(lines[0])
    row["sts_dev_spearman_cosine"] = str(row["sts_dev_spearman_cosine"])
    result.write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    return result


# A crashed sweep's own files (Ray's), read by every command that reads a sweep that did not finish.
CRASHED = [
    ("no trial_data", _no_trial_data, "damaged (trial_data: missing)"),
    ("a trial without its id", _without_trial_id, "damaged (trial_data.0.trial_id: missing)"),
    ("failures counted in text", _failures_as_text, "damaged (trial_data.0.num_failures: Input should be"),
    ("a trial folder out of the folder", _outside_error("../secret", "error.txt"), "is not a name inside"),
    ("an error file out of the folder", _outside_error("trial_x", "../../error.txt"), "is not a name inside"),
    ("an error file linked out of the folder", _linked_error, "a link out of the folder"),
    ("a score as text in result.json", _score_as_text, "damaged (line 1: sts_dev_spearman_cosine is not a number)"),
]


class TestACrashedSweepWithADamagedRayFile:
    @pytest.mark.parametrize("command", ["status", "analyze", "simulate"])
    @pytest.mark.parametrize(
        ("damage", "said"), [pytest.param(d, s, id=how.replace(" ", "_")) for how, d, s in CRASHED]
    )
    def test_is_refused_in_one_line_naming_the_file_and_nothing_outside_is_read(
        self, smoke_experiment, tmp_path, capsys, damage, said, command
    ):
        folder = ray_only_copy(smoke_experiment, tmp_path / "crashed" / smoke_experiment.name)
        damaged = damage(folder)
        line = _refused(folder, command, capsys)
        assert f"{folder}/{damaged.relative_to(folder)}: " in line and said in line
        assert "SECRET-TEXT" not in line


@pytest.mark.parametrize("command", ["retrain", "report"])
def test_a_sweep_that_did_not_finish_is_sent_to_sweep_resume(smoke_experiment, tmp_path, capsys, command):
    folder = ray_only_copy(smoke_experiment, tmp_path / smoke_experiment.name)
    line = _refused(folder, command, capsys)
    assert line == f"sweep: error: {folder}: not finished: the sweep did not end; `sweep resume {folder}` finishes it\n"


def test_a_sweep_whose_retrain_did_not_finish_is_sent_to_sweep_resume(smoke_experiment, tmp_path, capsys):
    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    (folder / "retrain.json").unlink()  # the driver died during the retrain
    line = _refused(folder, "report", capsys)
    assert (
        line == f"sweep: error: {folder}: not finished: the retrain did not end; `sweep resume {folder}` finishes it\n"
    )


def test_a_damaged_retrain_run_is_refused_before_any_run_starts(smoke_experiment, tmp_path, capsys):
    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    (folder / "retrain.json").unlink()
    (folder / "retrain_runs" / "untrained.json").write_text("{}")
    line = _refused(folder, "retrain", capsys)
    assert f"{folder}/retrain_runs/untrained.json: damaged (sts_dev: missing); remove it: `sweep retrain" in line


def test_a_retrain_of_other_seeds_than_the_config_names_is_sent_back_to_sweep_retrain(
    smoke_experiment, tmp_path, capsys
):
    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["retrain"]["seeds"] = [1, 2]
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    line = _refused(folder, "report", capsys)
    assert (
        "retrain.json holds seeds [" in line and "config.yaml's retrain.seeds are [1, 2]; rerun `sweep retrain" in line
    )


def test_frames_without_a_trial_that_can_win_are_sent_back_to_sweep_resume(smoke_experiment, tmp_path, capsys):
    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    _frame(lambda frame: frame.assign(status="errored"))(folder / "trials.parquet")
    line = _refused(folder, "report", capsys)
    assert "trials.parquet has no trial that can win, yet retrain.json retrained one" in line
    assert "`sweep resume DIR` rebuilds both" in line


def test_sweep_resume_rebuilds_the_removed_frames_as_they_were_and_trains_nothing(smoke_experiment, tmp_path, caplog):
    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    for name in ("trials.parquet", "reports.parquet"):
        (folder / name).unlink()  # as the line refusing a damaged one says
    with caplog.at_level("INFO", logger="sweep"):
        assert main(["resume", str(folder)]) == 0
    assert "0 left to run" in caplog.text and "runs kept from an earlier retrain, 0 to run" in caplog.text
    for name in ("trials.parquet", "reports.parquet", "retrain.json"):
        assert (folder / name).read_bytes() == (smoke_experiment / name).read_bytes()


def test_a_damaged_optuna_journal_is_refused_before_the_resume_goes_on(smoke_experiment, tmp_path, capsys):
    folder = ray_only_copy(smoke_experiment, tmp_path / smoke_experiment.name)
    (folder / "optuna.journal").write_text('{"op_code": 0, "worker_id": "w"}\nnot a line of Optuna\'s\n')
    line = _refused(folder, "resume", capsys)
    assert f"{folder}/optuna.journal: damaged, not an Optuna journal (" in line
    assert "move it away, and `sweep resume` tells a fresh study the finished trials" in line


def test_a_report_without_the_delivered_model_says_so_and_what_trains_it_again(smoke_experiment, tmp_path, caplog):
    folder = tmp_path / smoke_experiment.name
    shutil.copytree(smoke_experiment, folder)
    shutil.rmtree(folder / "best_model")
    with caplog.at_level("WARNING", logger="sweep"):
        assert main(["report", str(folder)]) == 0
    said = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert said == [
        f"{folder}/best_model is missing: the report names a model the folder lacks; `sweep retrain {folder}` "
        "trains it again (its one run; the other runs are kept)"
    ]
    assert not (folder / "best_model").exists()  # a report never makes up a model
