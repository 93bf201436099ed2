"""Base class of every config section: strict types, unknown keys refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A config section. YAML gives real types, so no string-to-number guessing; typos are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
