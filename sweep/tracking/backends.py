"""Experiment tracking: the sweep's trials through Ray Tune's own logger callbacks (TensorBoard, MLflow,
W&B); the retrain's runs and the report go through the libraries' own clients (``sweep.tracking.tracker``).

Checked before any trial starts (``check_tracking``: the package imports, the MLflow server answers,
W&B online has an API key).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import urllib.parse
from collections.abc import Iterator
from typing import Any

from sweep.config.experiment import ExperimentConfig
from sweep.config.tracking import TrackingConfig, redact
from sweep.runtime import credentials
from trainables.errors import InputError
from trainables.internals import (
    MLFLOW_CREDENTIALS,
    MLFLOW_PASSWORD_ENV,
    MLFLOW_RETRIES_ENV,
    MLFLOW_TIMEOUT_ENV,
    MLFLOW_URI_ENV,
    MLFLOW_USERNAME_ENV,
    WANDB_API_KEY_ENV,
    WANDB_DIR_ENV,
    WANDB_MODE_ENV,
    import_without_torch,
)

log = logging.getLogger("sweep")

EXPERIMENT_TAG = "sweep.experiment"  # the experiment folder's name, on every run a sweep logs
KIND_TAG = "sweep.kind"  # trial, retrain or report
RUN_TAG = "sweep.run"  # a retrain run's name (best-seed13, default-seed13, untrained) or a trial's id
STATUS_TAG = "sweep.status"  # a trial's outcome once the sweep ends: completed, pruned, errored, unfinished
REPORT_RUN = "report"
_PACKAGES = {"tensorboard": "tensorboardX", "mlflow": "mlflow", "wandb": "wandb"}
# An MLflow server that does not answer fails the check at once, and a tracker gone after the sweep
# costs one short wait, instead of MLflow's default 7 retries with exponential back-off (minutes).
_CHECK_HTTP = {MLFLOW_RETRIES_ENV: "0", MLFLOW_TIMEOUT_ENV: "10"}
AFTER_SWEEP_HTTP = {MLFLOW_RETRIES_ENV: "1", MLFLOW_TIMEOUT_ENV: "30"}


@contextlib.contextmanager
def scoped_environment(values: dict[str, str]) -> Iterator[None]:
    """MLflow reads its HTTP settings from the environment on every request: set them for a while."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def import_tensorboardx() -> Any:
    """tensorboardX without torch, which it would import only for type hints (seconds of the driver's CPU)."""
    return import_without_torch("tensorboardX")


def check_tracking(tracking: TrackingConfig) -> None:
    """InputError for a tracker that cannot work: its package missing, an MLflow server that does not
    answer, W&B online without an API key. Nothing is logged yet."""
    for backend in tracking.backends:
        try:
            import_tensorboardx() if backend == "tensorboard" else __import__(_PACKAGES[backend])
        except ImportError as error:
            raise InputError(
                f"tracking.{backend}: the {_PACKAGES[backend]} package cannot be imported ({error}); "
                f"pip install 'adaptive-layer-sweep[{backend}]'"
            ) from None
    if tracking.mlflow is not None:
        _check_mlflow(mlflow_uri(tracking))
    if tracking.wandb is not None and _wandb_mode(tracking) == "online" and not _wandb_api_key():
        raise InputError(
            f"tracking.wandb: mode online needs an API key: set {WANDB_API_KEY_ENV} or run `wandb login`; "
            "or use mode offline and `wandb sync` later"
        )


def mlflow_uri(tracking: TrackingConfig) -> str | None:
    """The MLflow tracking URI without credentials; a user and password given in it move to the variables
    MLflow reads on every request, so that the URI handed to Ray's callback (pickled in the experiment's
    tuner.pkl) and to MLflow's logs holds none."""
    assert tracking.mlflow is not None
    uri = tracking.mlflow.tracking_uri
    if uri is None:
        return None
    parts = urllib.parse.urlsplit(uri)
    if parts.username is not None:
        os.environ[MLFLOW_USERNAME_ENV] = urllib.parse.unquote(parts.username)
    if parts.password is not None:
        os.environ[MLFLOW_PASSWORD_ENV] = urllib.parse.unquote(parts.password)
    return redact(uri)


def check_stored_uri(tracking: TrackingConfig, where: str, trusted: bool = False) -> None:
    """InputError where an experiment folder's MLflow URI (``where`` names its config.yaml) would receive this
    machine's MLflow credentials without the user's say: a folder handed over by someone else may name any
    server. Its URI is used with them only where it is the one configured here (``MLFLOW_TRACKING_URI``),
    or where the user ``trusted`` it (``--trust-tracking-uri``); without credentials here nothing is sent."""
    stored = tracking.mlflow.tracking_uri if tracking.mlflow is not None else None
    present = [name for name in MLFLOW_CREDENTIALS if os.environ.get(name)]
    if stored is None or trusted or not present:
        return
    configured = os.environ.get(MLFLOW_URI_ENV)
    if configured is not None and redact(configured).rstrip("/") == redact(stored).rstrip("/"):
        return
    here = f"{MLFLOW_URI_ENV} is {redact(configured)}" if configured else f"{MLFLOW_URI_ENV} is unset"
    raise InputError(
        f"tracking.mlflow.tracking_uri: {where} names {redact(stored)}, not the MLflow server configured here "
        f"({here}), and this machine's {' / '.join(present)} would be sent there; "
        "add --trust-tracking-uri if you trust that server"
    )


def _check_mlflow(uri: str | None) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    with scoped_environment(_CHECK_HTTP):
        try:
            client.search_experiments(max_results=1)
        except Exception as error:  # any failure: the sweep could not log there
            where = redact(client.tracking_uri)
            raise InputError(
                f"tracking.mlflow.tracking_uri: no MLflow server answers at {where} ({error_reason(error)})"
            ) from None


def error_reason(error: Exception) -> str:
    """An error's first line, credentials left out, short enough for one line of output."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {redact(lines[0])[:200]}" if lines else type(error).__name__


def _wandb_mode(tracking: TrackingConfig) -> str:
    assert tracking.wandb is not None
    return tracking.wandb.mode or os.environ.get(WANDB_MODE_ENV, "online")


def _wandb_api_key() -> bool:
    if os.environ.get(WANDB_API_KEY_ENV):
        return True
    import wandb

    with contextlib.suppress(Exception):  # a key from `wandb login` (the netrc file)
        return bool(wandb.api.api_key)
    return False


def mlflow_experiment(config: ExperimentConfig) -> str:
    assert config.tracking.mlflow is not None
    return config.tracking.mlflow.experiment_name or config.name


def wandb_init_args(config: ExperimentConfig, group: str) -> dict[str, Any]:
    """wandb.init's arguments shared by the trials' runs and the driver's own."""
    wandb = config.tracking.wandb
    assert wandb is not None
    args: dict[str, Any] = {"project": wandb.project or config.name, "group": wandb.group or group}
    if wandb.mode is not None:
        args["mode"] = wandb.mode
    if os.environ.get(WANDB_DIR_ENV):
        # The trials' logging actors run on this node but in workers of a Ray that may have started
        # before this variable was set, so they are told it.
        args["dir"] = os.environ[WANDB_DIR_ENV]
    return args


def tune_callbacks(config: ExperimentConfig, group: str) -> list[Any]:
    """Ray Tune's own logger callbacks for the trackers turned on; ``group`` is the experiment folder's name."""
    tracking, callbacks = config.tracking, list[Any]()
    if tracking.tensorboard:
        import_tensorboardx()  # before Ray's callback imports it, so that torch stays out of the driver
        from ray.tune.logger import TBXLoggerCallback

        callbacks.append(TBXLoggerCallback())
    if tracking.mlflow is not None:
        from ray.air.integrations.mlflow import MLflowLoggerCallback

        callbacks.append(
            MLflowLoggerCallback(
                tracking_uri=mlflow_uri(tracking),
                experiment_name=mlflow_experiment(config),
                tags={EXPERIMENT_TAG: group, KIND_TAG: "trial"},
            )
        )
    if tracking.wandb is not None:
        args = wandb_init_args(config, group)
        if "mode" in args:
            # Ray's callback asks for an API key unless this variable says offline; its trials' runs
            # get the mode itself through wandb.init.
            os.environ[WANDB_MODE_ENV] = args["mode"]
        callbacks.append(_wandb_callback_class()(**args, job_type="trial"))
    return callbacks


@functools.cache
def _wandb_callback_class() -> type:
    """Ray's W&B callback, less its copy of ``WANDB_API_KEY`` into the runtime environment of the actor it
    logs from (which Ray writes to its logs, see ``sweep.runtime.credentials``); the actor, on this node, inherits
    the key from the environment Ray's workers start with. Made here, as importing Ray's callback imports
    wandb."""
    from ray.air.integrations.wandb import WandbLoggerCallback

    class WandbKeyInherited(WandbLoggerCallback):
        def log_trial_start(self, trial: Any) -> None:
            with credentials.hidden(WANDB_API_KEY_ENV):
                super().log_trial_start(trial)

    return WandbKeyInherited
