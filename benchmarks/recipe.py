"""The recipe every benchmark runs: ``search_spaces/minilm_cpu.yaml``, shrunk in quick mode.

Quick mode keeps the recipe's shape (several STS-dev evaluations per run, ASHA's rungs at 1 and 3,
one two-core trial at a time, the same search space) and cuts the rows, trials and seeds, so the
whole quick set fits in 10 minutes.
"""

from __future__ import annotations

from pathlib import Path

from sweep.config.experiment import ExperimentConfig, load_config

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "search_spaces" / "minilm_cpu.yaml"
RUNS_DIR = ROOT / "results" / "benchmarks"  # ignored by git, like every experiment folder

# 8 steps of 16 triplets, evaluated every 2 steps on 100 pairs: the full recipe's rungs, in miniature,
# and two retrain seeds (not the trials' seed 12), so that the verdicts' seed part is measured at all.
QUICK = (
    "data.train.limit=128",
    "train.eval_steps=2",
    "data.sts_dev.limit=100",
    "data.sts_test.limit=300",
    "search.num_samples=4",
    "search.n_startup_trials=2",
    "retrain.seeds=[13, 14]",
)
FULL: tuple[str, ...] = ()  # the recipe as it is, three retrain seeds included
# Every trial runs its whole budget: neither ASHA nor the recipe's patience stops one.
NO_EARLY_STOPPING = ("scheduler.type=none", "scheduler.patience=null")


def overrides(quick: bool, *extra: str) -> list[str]:
    """The ``--set`` values of the benchmark recipe, then ``extra``."""
    return [*(QUICK if quick else FULL), *extra]


def recipe(quick: bool, *extra: str) -> ExperimentConfig:
    """The validated benchmark recipe; relative data paths resolve against the repository root."""
    return load_config(RECIPE, overrides(quick, *extra))
