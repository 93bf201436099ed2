"""What caused the difference: the report's attribution on synthetic retrains whose causes are planted.

Each arm's STS-test similarities are the gold scores blurred by noise: the less noise, the better the
arm's Spearman. The trainer settings carry the whole gain (the reference defaults are blurred more, by
about 3 points of Spearman); the loss settings carry none (best and the loss's defaults at the winner's
trainer settings are blurred alike). The report must say so, with intervals that see both noises.
"""

from __future__ import annotations

import numpy as np
import pytest

from sweep.config.arms import ARMS, UNTRAINED
from sweep.config.experiment import load_config
from sweep.report.summary import _attribution
from sweep.store.similarities import similarity_frame
from trainables.data import StsPairs

from .conftest import SMOKE

PAIRS, DEPTHS = 400, 4
NOISE = {"best": 0.15, "defaults_at_best_trainer": 0.15, "defaults": 0.175, "plain": 0.15, UNTRAINED: 0.4}


def _runs(rng: np.random.Generator, gold: np.ndarray, seeds: list[int]) -> tuple[dict, dict]:
    runs = {}
    for arm in ("best", "defaults", "defaults_at_best_trainer", "plain"):
        # Each seed its own model: its noise level varies a little from seed to seed.
        runs[arm] = [
            {"seed": seed, "cosine": gold + rng.normal(0, NOISE[arm] * (1 + 0.05 * rng.normal()), (DEPTHS, PAIRS))}
            for seed in seeds
        ]
    return runs, {"cosine": gold + rng.normal(0, NOISE[UNTRAINED], (DEPTHS, PAIRS))}


@pytest.fixture(scope="module")
def planted():
    config = load_config(SMOKE, [])
    rng = np.random.default_rng(3)
    gold = np.round(rng.random(PAIRS), 2)
    runs, untrained = _runs(rng, gold, config.retrain_seeds)
    frame = similarity_frame(StsPairs([""] * PAIRS, [""] * PAIRS, gold.tolist()), runs, untrained)
    plan = {arm: {"config": {}, "runs_of": arm, "note": None} for arm in ARMS}
    return _attribution({"arms": plan}, frame, config, DEPTHS)


def test_a_gain_planted_in_the_trainer_settings_is_the_trainers_not_the_losss(planted):
    trainer, loss, total = planted["trainer"], planted["loss"], planted["total"]
    assert trainer.objective["interval"][0] > 0 and trainer.objective["says"] == "better"
    assert 0.015 < trainer.objective["delta"] < 0.05  # about the 3 points planted
    low, high = loss.objective["interval"]
    assert low < 0 < high and loss.objective["says"] != "better"
    for entry in loss.per_depth:
        assert entry["adjusted_interval"][0] < 0 < entry["adjusted_interval"][1]
    # The total alone would credit the sweep's loss settings with the trainer's gain.
    assert total.objective["delta"] > 0.01


def test_each_difference_is_the_arms_it_names(planted):
    assert planted["loss"].arms == ["best", "defaults_at_best_trainer"]
    assert planted["adaptive"].arms == ["best", "plain"]
    loss, trainer, total = (planted[key].objective["delta"] for key in ("loss", "trainer", "total"))
    assert loss + trainer == pytest.approx(total)


def test_a_difference_whose_arm_was_left_out_is_not_judged(planted):
    config = load_config(SMOKE, ["retrain.arms=[best, plain]"])
    rng = np.random.default_rng(4)
    gold = rng.random(PAIRS)
    runs, untrained = _runs(rng, gold, config.retrain_seeds)
    frame = similarity_frame(StsPairs([""] * PAIRS, [""] * PAIRS, gold.tolist()), runs, untrained)
    plan = {arm: {"config": {}, "runs_of": arm, "note": None} for arm in ("best", "plain", UNTRAINED)}
    found = _attribution({"arms": plan}, frame, config, DEPTHS)
    assert found["total"] is None and found["loss"] is None and found["trainer"] is None
    assert found["adaptive"].arms == ["best", "plain"]
