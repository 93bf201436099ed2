"""The fixed training recipe shared by every trial; its trainer knobs are the reference values."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from trainables.errors import InputError
from trainables.schema import MAX_INT64, MAX_SEED, Strict


class TrainConfig(Strict):
    """Training settings shared by every trial; the trainer knobs here are the reference values."""

    batch_size: int = Field(128, ge=2, le=MAX_INT64)  # reference recipe; in-batch negatives need at least 2
    epochs: float = Field(1.0, gt=0)  # one pass over the triplets, as in the reference recipe (finite: see steps)
    max_steps: int | None = Field(None, ge=1, le=MAX_INT64)  # overrides epochs when set
    learning_rate: float = Field(5e-5, gt=0, lt=1)  # the Trainer's default, used by the reference recipe
    warmup_ratio: float = Field(0.1, ge=0, lt=1)  # share of steps with linear warm-up
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"  # auto: bf16 where supported, else fp16; fp32 on CPU
    batch_sampler: Literal["no_duplicates", "batch_sampler"] = "no_duplicates"  # no false in-batch negatives
    seed: int = Field(12, ge=0, le=MAX_SEED)  # seed of every sweep trial; retrains use retrain.seeds
    eval_steps: int = Field(100, ge=1, le=MAX_INT64)  # STS-dev is evaluated (and reported to ASHA) every N steps
    eval_batch_size: int = Field(64, ge=1, le=MAX_INT64)  # batch size of the STS encoding passes

    def steps(self, n_rows: int, batch_size: int) -> int:
        """Optimizer steps of a full run, as the Trainer counts them. Raises InputError where ``epochs``
        makes more steps than a step counter holds (checked before any trial, where the rows are known)."""
        if self.max_steps is not None:
            return self.max_steps
        steps = math.ceil(n_rows / batch_size) * self.epochs
        if steps > MAX_INT64:  # also where the product overflowed to inf, which math.ceil cannot round
            raise InputError(
                f"train.epochs: {self.epochs:g} epochs of {n_rows} rows make {steps:.3g} steps, more than the "
                f"{MAX_INT64} a step count holds; use fewer epochs or train.max_steps"
            )
        return max(1, math.ceil(steps))

    def evaluations(self, n_rows: int, batch_size: int) -> int:
        """Reports of a full run: every eval_steps, plus one at the last step."""
        return math.ceil(self.steps(n_rows, batch_size) / self.eval_steps)
