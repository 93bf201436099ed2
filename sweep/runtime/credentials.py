"""Credentials in the environment: which variables hold them, and keeping their values out of Ray's files.

Ray writes every runtime environment it sets up, ``env_vars`` and their values included, to
``runtime_env_agent.log`` in its session folder (and a cluster keeps a job's in its job table). Two parts of
Ray copy credentials into runtime environments of their own accord: Ray Tune gives every trainable the
driver's ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` (``ray.tune.execution.
class_cache``), and its W&B callback gives its logging actor ``WANDB_API_KEY``. Neither copy is needed
here: the workers of a Ray this process starts inherit its environment, a job's actors inherit the job's,
and a cluster's other nodes have their own sources (instance roles, their own variables), as the README
asks of them.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

from trainables.internals import (
    MLFLOW_CREDENTIALS,
    RAY_AUTH_TOKEN_ENV,
    WANDB_API_KEY_ENV,
    keep_out_of_tune_env_propagation,
)

# Variables whose values are secrets: cloud keys, tracker keys, the model hub's token, Ray's token, and
# libpq's password (the study storage's database). Those the sweep itself reads are named in
# trainables.internals; the others it only keeps out of Ray's files.
_SECRETS = ("AWS_.+", WANDB_API_KEY_ENV, *MLFLOW_CREDENTIALS, "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", RAY_AUTH_TOKEN_ENV)
_CREDENTIAL = re.compile("|".join([*_SECRETS, "PGPASSWORD"]))


def is_credential(name: str) -> bool:
    """Whether the environment variable ``name`` holds a secret."""
    return _CREDENTIAL.fullmatch(name) is not None


def keep_out_of_runtime_envs() -> None:
    """Stop Ray Tune from copying credential variables into the trainables' runtime environment.

    Everything else it propagates stays."""
    keep_out_of_tune_env_propagation(is_credential)


@contextlib.contextmanager
def hidden(*names: str) -> Iterator[None]:
    """The variables ``names`` absent from this process's environment for a while, then restored: for a
    library call that would copy them into a runtime environment."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)
