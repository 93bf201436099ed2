"""Base class of every config section (strict types, unknown keys refused, finite numbers), and the
numeric limits that the libraries consuming the config set."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# numpy's seeds, which transformers' set_seed, datasets' shuffle and Optuna's sampler all feed: anything
# outside fails there.
MAX_SEED = 2**32 - 1
# Steps, counts and trial parameters land in int64 columns (trials.parquet, reports.parquet) and in numpy's
# int64 draws (tune.randint): a larger whole number overflows there.
MAX_INT64 = 2**63 - 1
# A transformer's depth: well beyond any model this tool trains, so that a larger figure (a damaged file, a
# mistyped key) is refused rather than spent on 1..L loops over depths.
MAX_LAYERS = 1024


class Strict(BaseModel):
    """A config section. YAML gives real types, so no string-to-number guessing; typos are errors. No
    float may be infinite or NaN: no consumer (Ray, torch, transformers, numpy) can use one, and some
    raise OverflowError on it where they round it to a whole number."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
