"""The ``tracking`` section: where a sweep is logged besides its own folder (TensorBoard, MLflow, W&B).

Everything is off by default. Credentials stay out of every file: a password in an MLflow URI is used
by the run that was given it but never written (``redact``); W&B's API key comes from the environment.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_serializer

from trainables.schema import Strict

# The userinfo part of a URI (scheme://user:password@host…, scheme://token@host…), wherever it appears.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^\s/@]+)@")


def redact(text: str) -> str:
    """``text`` with the credentials of every URI in it left out (``http://u:p@host`` -> ``http://host``):
    a user with a password, and on a web URI (MLflow's) any userinfo, which is a user name MLflow takes as a
    credential or a token. A database URL's user alone (``postgresql://sweeper@db/sweeps``) is no secret
    and stays, so that the URL still names the same login."""

    def strip(match: re.Match[str]) -> str:
        secret = ":" in match["userinfo"] or match["scheme"].lower() in ("http", "https")
        return f"{match['scheme']}://" if secret else match[0]

    return _USERINFO.sub(strip, text)


class MlflowTracking(Strict):
    """Every trial an MLflow run (parameters, every evaluation's metrics), every retrain run one, and the
    report with its plots as artifacts of a run of its own."""

    # None: MLFLOW_TRACKING_URI, else MLflow's own default (./mlruns). Credentials belong in
    # MLFLOW_TRACKING_USERNAME / _PASSWORD: one given in the URI is not saved, so a resume needs those.
    tracking_uri: str | None = Field(None, min_length=1)
    experiment_name: str | None = Field(None, min_length=1)  # None: the experiment's `name`, one per recipe

    @field_serializer("tracking_uri")
    def _without_credentials(self, uri: str | None) -> str | None:
        return None if uri is None else redact(uri)


class WandbTracking(Strict):
    """The same content in Weights & Biases: one run per trial, per retrain run and for the report."""

    project: str | None = Field(None, min_length=1)  # None: the experiment's `name`
    group: str | None = Field(None, min_length=1)  # None: the experiment folder's name, one group per sweep
    # None: WANDB_MODE, else online, as wandb decides. offline writes the runs under WANDB_DIR (else each
    # trial's folder) for a later `wandb sync`, and needs no API key.
    mode: Literal["online", "offline"] | None = None


class TrackingConfig(Strict):
    """Experiment trackers fed through Ray Tune's logger callbacks and the libraries' own clients."""

    # Per-trial event files in each trial's folder; off, as Tune's own logger cost the first trial seconds.
    tensorboard: bool = False
    mlflow: MlflowTracking | None = None  # off unless the section is given (`--set 'tracking.mlflow={}'`)
    wandb: WandbTracking | None = None  # off unless the section is given

    @property
    def backends(self) -> list[str]:
        """The trackers turned on, by name."""
        on = {"tensorboard": self.tensorboard, "mlflow": self.mlflow is not None, "wandb": self.wandb is not None}
        return [name for name, enabled in on.items() if enabled]
