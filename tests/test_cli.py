"""The command line's local run of one config (bad input is tried in test_bad_input)."""

from __future__ import annotations

import json
import subprocess
import sys

from sweep.cli import main

from .conftest import ROOT, SMOKE


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


def test_the_sweep_driver_loads_no_training_or_plotting_library_before_it_needs_one():
    # The driver's imports come before a cold sweep's first step; the trials import the training stack
    # themselves, and matplotlib is only needed once the sweep is over.
    code = "import sys, sweep.cli, sweep.workflow.commands; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in ("torch", "transformers", "sentence_transformers", "matplotlib"):
        assert f"'{heavy}'" not in loaded
    assert "'ray'" in loaded  # the check sees what the driver imports


def test_a_trial_whose_loss_turns_nan_ends_in_one_line_and_exit_1():
    # In its own process, as a user runs it: progress bars are switched off when a library first loads,
    # which in this test process has happened long before.
    command = [sys.executable, "-m", "sweep", "trial", str(SMOKE), "--set", "search_space.kl_temperature=1.0e-40"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 1, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("sweep: error: seed 12") and "loss became nan" in line


def test_a_retrain_task_that_raises_becomes_one_line(ray_session):
    import pytest
    import ray

    from sweep.workflow.retrain import gather
    from trainables.errors import RunFailed
    from trainables.training import TrialFailed

    def diverges():
        raise TrialFailed("seed 13, {...}: training loss became nan at step 3")

    with pytest.raises(RunFailed) as caught:
        gather([ray.remote(diverges).options(max_retries=0).remote()], "the best config")
    assert str(caught.value) == (
        "retrain of the best config failed: TrialFailed: seed 13, {...}: training loss became nan at step 3"
    )
