"""The command line's local run of one config (bad input is tried in test_bad_input)."""

from __future__ import annotations

import json

from sweep.cli import main

from .conftest import SMOKE


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


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
