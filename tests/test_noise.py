"""Noise told apart from signal in the report: the seed-to-seed spread of the objective measured by the
retrain, whether the winner's lead over the runner-up exceeds it, and trials still rising at the end."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sweep.config.objective import ObjectiveConfig
from sweep.report.noise import lead, noise_lines, noise_summary, seed_spread, still_rising
from trainables.metrics import MEAN_DEPTH

MEAN = ObjectiveConfig(target="mean_depths")


def _runs(values: list[float]) -> list[dict]:
    return [{"seed": 13 + i, "chosen": {MEAN_DEPTH: v}} for i, v in enumerate(values)]


RETRAINED = {"best": _runs([0.70, 0.72, 0.74]), "default": _runs([0.60, 0.60, 0.63])}


def _standings(scores: dict[str, float]) -> pd.DataFrame:
    rows = [{"trial_id": t, MEAN_DEPTH: v, "steps": 12, "total_steps": 12} for t, v in scores.items()]
    return pd.DataFrame(rows)


def test_the_seed_spread_pools_the_winners_and_the_defaults_seeds():
    spread = seed_spread(RETRAINED, MEAN)
    assert spread["per_arm"]["best"] == pytest.approx(0.02)
    assert spread["per_arm"]["defaults"] == pytest.approx(math.sqrt(0.0003))
    assert spread["pooled"] == pytest.approx(math.sqrt((0.0004 + 0.0003) / 2))
    assert seed_spread({"best": _runs([0.7]), "default": []}, MEAN)["pooled"] is None  # one seed: not measured


def test_a_lead_smaller_than_two_single_runs_differ_by_is_a_tie():
    pooled = seed_spread(RETRAINED, MEAN)["pooled"]  # 0.0187: two single runs differ by 0.0265
    close = lead(_standings({"a": 0.75, "b": 0.74, "c": 0.60}), MEAN, pooled)
    assert (close["winner"], close["runner_up"], close["tie"]) == ("a", "b", True)
    assert close["noise"] == pytest.approx(math.sqrt(2) * pooled)
    assert lead(_standings({"a": 0.80, "b": 0.74}), MEAN, pooled)["tie"] is False
    assert lead(_standings({"a": 0.80}), MEAN, pooled) is None
    assert lead(_standings({"a": 0.80, "b": 0.74}), MEAN, None)["tie"] is None


def test_the_runner_up_of_a_feasible_winner_is_feasible_too():
    ranking = _standings({"a": 0.75, "b": 0.70, "c": 0.80}).assign(feasible=[True, True, False])
    assert lead(ranking, MEAN, 0.01)["runner_up"] == "b"


def test_completed_trials_still_rising_at_their_last_evaluation_flag_the_search():
    reports = pd.DataFrame(
        [
            {"trial_id": "a", "step": 4, MEAN_DEPTH: 0.600},
            {"trial_id": "a", "step": 8, MEAN_DEPTH: 0.603},  # +0.3 points: still rising
            {"trial_id": "b", "step": 4, MEAN_DEPTH: 0.600},
            {"trial_id": "b", "step": 8, MEAN_DEPTH: 0.601},  # +0.1: flat
        ]
    )
    rising = still_rising(_standings({"a": 0.603, "b": 0.601}), reports, MEAN)
    assert (rising["trials"], rising["of"], rising["share"], rising["flag"]) == (["a"], 2, 0.5, True)
    text = " ".join(noise_lines(noise_summary(RETRAINED, _standings({"a": 0.603, "b": 0.601}), reports, MEAN)))
    assert "1 of 2 completed trials were still rising by more than 0.20" in text
    assert "**the budget may be too short to rank them**" in text and "**a tie within seed noise**" in text
