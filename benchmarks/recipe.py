"""The recipe every benchmark runs: ``search_spaces/minilm_cpu.yaml``, shrunk in quick mode.

Quick mode keeps the recipe's shape (three STS-dev evaluations per run, two trials at a time, the
same search space) and cuts the rows, trials and seeds, so the whole quick set fits in 10 minutes.
"""

from __future__ import annotations

from pathlib import Path

from sweep.config import ExperimentConfig, load_config

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "search_spaces" / "minilm_cpu.yaml"
RUNS_DIR = ROOT / "results" / "benchmarks"  # ignored by git, like every experiment folder

# 10 steps of 16 triplets, evaluated at steps 4, 8 and 10: the full recipe's three evaluations, in miniature.
QUICK = (
    "data.train.limit=160",
    "train.eval_steps=4",
    "data.sts_dev.limit=200",
    "data.sts_test.limit=300",
    "search.num_samples=4",
    "retrain.seeds=[12]",
)
# The full recipe, with three retrain seeds so the best config and the defaults get a mean and a spread.
FULL = ("retrain.seeds=[12, 13, 14]",)


def overrides(quick: bool, *extra: str) -> list[str]:
    """The ``--set`` values of the benchmark recipe, then ``extra``."""
    return [*(QUICK if quick else FULL), *extra]


def recipe(quick: bool, *extra: str) -> ExperimentConfig:
    """The validated benchmark recipe; relative data paths resolve against the repository root."""
    return load_config(RECIPE, overrides(quick, *extra))
