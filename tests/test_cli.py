"""The command line: exit status 2 and one line on stderr for bad input, with nothing written."""

from __future__ import annotations

import json

import pytest

from sweep.cli import main

from .conftest import SMOKE


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "missing.yaml"], "missing.yaml: cannot read the config file"),
        (["run", str(SMOKE), "--set", "train.batch_size=0"], "train.batch_size: Input should be greater than or equal"),
        (["run", str(SMOKE), "--set", "data.train.source=absent.jsonl"], "data.train.source: data file absent.jsonl"),
        (["run", str(SMOKE), "--set", "model.name=./no-such-model"], "model.name: folder ./no-such-model does not"),
        (["trial", str(SMOKE), "--set", "search.seed=x"], "search.seed: Input should be a valid integer"),
        (["report", "no-such-folder"], "no-such-folder: not a folder"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, argv, message):
    code, _, err = run_cli(capsys, *argv, *(["--results-dir", str(tmp_path)] if argv[0] == "run" else []))
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_a_results_dir_that_is_a_file_is_refused(capsys, tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    code, _, err = run_cli(capsys, "run", str(SMOKE), "--results-dir", str(blocker))
    assert code == 2 and "results_dir: " in err and "is a file" in err


def test_a_folder_without_a_sweep_is_refused(capsys, tmp_path):
    code, _, err = run_cli(capsys, "retrain", str(tmp_path))
    assert code == 2 and "no config.yaml; is this an experiment folder" in err


def test_trial_trains_one_config_and_prints_its_metrics(capsys):
    code, out, _ = run_cli(capsys, "trial", str(SMOKE), "--set", "train.epochs=1", "--set", "train.eval_steps=6")
    assert code == 0
    lines = out.splitlines()
    rows = [json.loads(line) for line in lines if line.startswith('{"step"')]
    assert [row["step"] for row in rows] == [6, 12, 13]
    summary = json.loads("\n".join(lines[len(rows) :]))
    assert summary["params"]["kl_temperature"] == 0.3  # searched parameters take the reference default
    assert -1 <= summary["test"]["spearman_cosine"] <= 1
    assert len(summary["test_per_depth"]) == 4
