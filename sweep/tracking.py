"""Experiment tracking: the sweep's trials through Ray Tune's own logger callbacks (TensorBoard, MLflow,
W&B), and the retrain's runs and the report through the libraries' own clients.

Checked before any trial starts (``check_tracking``: the package imports, the MLflow server answers,
W&B online has an API key). After the sweep, a tracker that fails (a server gone mid-way) costs one
warning line and is not used again: the sweep's own files are the results, the trackers a copy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from sweep.config import ExperimentConfig
from sweep.tracking_config import TrackingConfig, redact
from trainables.errors import InputError

log = logging.getLogger("sweep")

EXPERIMENT_TAG = "sweep.experiment"  # the experiment folder's name, on every run a sweep logs
KIND_TAG = "sweep.kind"  # trial, retrain or report
RUN_TAG = "sweep.run"  # a retrain run's name (best-seed13, default-seed13, untrained) or a trial's id
STATUS_TAG = "sweep.status"  # a trial's outcome once the sweep ends: completed, pruned, errored, unfinished
REPORT_RUN = "report"
_PACKAGES = {"tensorboard": "tensorboardX", "mlflow": "mlflow", "wandb": "wandb"}
# An MLflow server that does not answer fails the check at once, and a tracker gone after the sweep
# costs one short wait, instead of MLflow's default 7 retries with exponential back-off (minutes).
_CHECK_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
_AFTER_SWEEP_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
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
    """tensorboardX without torch. Its writer imports torch only to name ``torch.Tensor`` in type hints
    (``try: import torch``), which cost the driver seconds of CPU before the first trial; a None entry in
    ``sys.modules`` makes that import fail as if torch were absent, and is removed again at once."""
    if "torch" in sys.modules:
        import tensorboardX

        return tensorboardX
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import tensorboardX
    finally:
        del sys.modules["torch"]
    return tensorboardX


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
            "tracking.wandb: mode online needs an API key: set WANDB_API_KEY or run `wandb login`; "
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
        os.environ["MLFLOW_TRACKING_USERNAME"] = urllib.parse.unquote(parts.username)
    if parts.password is not None:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = urllib.parse.unquote(parts.password)
    return redact(uri)


def _check_mlflow(uri: str | None) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    with _environment(_CHECK_HTTP):
        try:
            client.search_experiments(max_results=1)
        except Exception as error:  # any failure: the sweep could not log there
            where = redact(client.tracking_uri)
            raise InputError(
                f"tracking.mlflow.tracking_uri: no MLflow server answers at {where} ({_reason(error)})"
            ) from None


def _reason(error: Exception) -> str:
    """An error's first line, credentials left out, short enough for one line of output."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {redact(lines[0])[:200]}" if lines else type(error).__name__


def _wandb_mode(tracking: TrackingConfig) -> str:
    assert tracking.wandb is not None
    return tracking.wandb.mode or os.environ.get("WANDB_MODE", "online")


def _wandb_api_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    import wandb

    with contextlib.suppress(Exception):  # a key from `wandb login` (the netrc file)
        return bool(wandb.api.api_key)
    return False


def _mlflow_experiment(config: ExperimentConfig) -> str:
    assert config.tracking.mlflow is not None
    return config.tracking.mlflow.experiment_name or config.name


def _wandb_init_args(config: ExperimentConfig, group: str) -> dict[str, Any]:
    """wandb.init's arguments shared by the trials' runs and the driver's own."""
    wandb = config.tracking.wandb
    assert wandb is not None
    args: dict[str, Any] = {"project": wandb.project or config.name, "group": wandb.group or group}
    if wandb.mode is not None:
        args["mode"] = wandb.mode
    if os.environ.get("WANDB_DIR"):
        # The trials' logging actors run on this node but in workers of a Ray that may have started
        # before this variable was set, so they are told it.
        args["dir"] = os.environ["WANDB_DIR"]
    return args


def tune_callbacks(config: ExperimentConfig, group: str) -> list[Any]:
    """Ray Tune's own logger callbacks for the trackers turned on; ``group`` is the experiment folder's name."""
    tracking, callbacks = config.tracking, []
    if tracking.tensorboard:
        import_tensorboardx()  # before Ray's callback imports it, so that torch stays out of the driver
        from ray.tune.logger import TBXLoggerCallback

        callbacks.append(TBXLoggerCallback())
    if tracking.mlflow is not None:
        from ray.air.integrations.mlflow import MLflowLoggerCallback

        callbacks.append(
            MLflowLoggerCallback(
                tracking_uri=mlflow_uri(tracking),
                experiment_name=_mlflow_experiment(config),
                tags={EXPERIMENT_TAG: group, KIND_TAG: "trial"},
            )
        )
    if tracking.wandb is not None:
        from ray.air.integrations.wandb import WandbLoggerCallback

        args = _wandb_init_args(config, group)
        if "mode" in args:
            # Ray's callback asks for an API key unless this variable says offline; its trials' runs
            # get the mode itself through wandb.init.
            os.environ["WANDB_MODE"] = args["mode"]
        callbacks.append(WandbLoggerCallback(**args, job_type="trial"))
    return callbacks


def run_metrics(record: dict[str, Any]) -> dict[str, float]:
    """A retrain run's record (``retrain_runs/<name>.json``) as flat metric names."""
    if "params" not in record:  # the untrained model: STS-dev and STS-test, no training
        metrics = {f"sts_dev_{key}": value for key, value in record["sts_dev"]["full"].items()}
        metrics.update({f"test_{key}": value for key, value in record["test"]["full"].items()})
        metrics.update(_depths("test_spearman_cosine", record["test"]["per_depth"]))
        return metrics
    metrics = {f"test_{key}": value for key, value in record["test"].items()}
    metrics.update(_depths("test_spearman_cosine", record["test_per_depth"]))
    metrics["final_spearman_cosine"] = record["final"]
    metrics.update(_depths("final_spearman_cosine", record["final_per_depth"]))
    for key in ("sts_dev_chosen", "sts_dev_final", "chosen_step", "steps"):
        metrics[key] = record[key]
    return {key: float(value) for key, value in metrics.items()}


def _depths(prefix: str, values: list[float]) -> dict[str, float]:
    return {f"{prefix}_depth_{depth}": float(value) for depth, value in enumerate(values, start=1)}


def report_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The report's headline numbers: STS-test of the best config, the defaults and the untrained model."""
    metrics = {"test_spearman_cosine": report["test"]["spearman_cosine"]}
    metrics.update(_depths("test_spearman_cosine", report["test"]["per_layer"]))
    for name in ("default", "untrained"):
        test = (report.get(name) or {}).get("test")
        if test:
            metrics[f"{name}_test_spearman_cosine"] = test["spearman_cosine"]
            metrics.update(_depths(f"{name}_test_spearman_cosine", test["per_layer"]))
    metrics["best_sts_dev_spearman"] = report["best"]["sts_dev_spearman"]
    return {key: float(value) for key, value in metrics.items()}


class Tracker:
    """The trackers of one experiment after its trials: trial outcomes, retrain runs, the report."""

    def __init__(self, config: ExperimentConfig, group: str):
        self.config, self.group = config, group
        self.live = [name for name in ("mlflow", "wandb") if name in config.tracking.backends]

    @contextlib.contextmanager
    def _guarded(self, backend: str, what: str) -> Iterator[None]:
        """A failure here is one warning line, and the backend is left alone for the rest of the run."""
        try:
            with _environment(_AFTER_SWEEP_HTTP):
                yield
        except Exception as error:
            self.live.remove(backend)
            log.warning(
                "tracking: %s failed while logging %s (%s); the experiment folder is complete, %s logs no more",
                backend, what, _reason(error), backend,
            )  # fmt: skip

    def _client(self) -> tuple[Any, str]:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=mlflow_uri(self.config.tracking))
        name = _mlflow_experiment(self.config)
        experiment = client.get_experiment_by_name(name)
        return client, experiment.experiment_id if experiment else client.create_experiment(name)

    def log_statuses(self, trials: pd.DataFrame) -> None:
        """Tag each trial's MLflow run with its outcome (completed, pruned, errored), known once the sweep ends."""
        if "mlflow" not in self.live:
            return
        status = dict(zip(trials["trial_id"], trials["status"], strict=True))
        with self._guarded("mlflow", "the trials' outcomes"):
            client, experiment_id = self._client()
            runs = client.search_runs([experiment_id], f"tags.`{EXPERIMENT_TAG}` = '{self.group}'", max_results=50_000)
            for run in runs:
                trial_name = run.data.tags.get("trial_name", "")
                trial_id = next((tid for tid in status if trial_name.endswith(f"_{tid}")), None)
                if trial_id is not None:
                    client.set_tag(run.info.run_id, RUN_TAG, trial_id)
                    client.set_tag(run.info.run_id, STATUS_TAG, status[trial_id])

    def log_retrain_run(self, name: str, record: dict[str, Any]) -> None:
        """One retrain run (``best-seed13``, ``default-seed13``, ``untrained``), as it finishes."""
        metrics = run_metrics(record)
        params = {**record.get("params", {}), **({"seed": record["seed"]} if "seed" in record else {})}
        tags = {EXPERIMENT_TAG: self.group, KIND_TAG: "retrain", RUN_TAG: name}
        if "mlflow" in self.live:
            with self._guarded("mlflow", f"retrain run {name}"):
                from mlflow.entities import Param, RunTag

                client, experiment_id = self._client()
                run = client.create_run(experiment_id, run_name=f"{self.group}-{name}", tags=tags)
                client.log_batch(
                    run.info.run_id,
                    metrics=_mlflow_metrics(metrics),
                    params=[Param(key, str(value)) for key, value in params.items()],
                    tags=[RunTag(key, value) for key, value in tags.items()],
                )
                client.set_terminated(run.info.run_id, "FINISHED")
        if "wandb" in self.live:
            with self._guarded("wandb", f"retrain run {name}"):
                run = self._wandb_run(name, "retrain", params)
                run.log(metrics)
                run.finish()

    def log_report(self, folder: Any, files: list[str], report: dict[str, Any]) -> None:
        """A run of its own holding report.md, report.json and the plots as artifacts, and the headline numbers."""
        metrics = report_metrics(report)
        with tempfile.TemporaryDirectory(prefix="sweep-report-") as staging:
            for name in files:
                if folder.is_file(name):
                    (Path(staging) / name).write_bytes(folder.read_bytes(name))
            if "mlflow" in self.live:
                with self._guarded("mlflow", "the report"):
                    client, experiment_id = self._client()
                    tags = {EXPERIMENT_TAG: self.group, KIND_TAG: REPORT_RUN, RUN_TAG: REPORT_RUN}
                    run = client.create_run(experiment_id, run_name=f"{self.group}-{REPORT_RUN}", tags=tags)
                    client.log_batch(run.info.run_id, metrics=_mlflow_metrics(metrics))
                    client.log_artifacts(run.info.run_id, staging)
                    client.set_terminated(run.info.run_id, "FINISHED")
            if "wandb" in self.live:
                with self._guarded("wandb", "the report"):
                    import wandb

                    run = self._wandb_run(REPORT_RUN, REPORT_RUN, {})
                    run.log(metrics)
                    artifact = wandb.Artifact(f"{self.group}-{REPORT_RUN}", type=REPORT_RUN)
                    artifact.add_dir(staging)
                    run.log_artifact(artifact)
                    run.finish()

    def _wandb_run(self, name: str, job_type: str, config: dict[str, Any]) -> Any:
        import wandb

        args = _wandb_init_args(self.config, self.group)
        return wandb.init(
            **args,
            name=f"{self.group}-{name}",
            job_type=job_type,
            config=config,
            reinit="create_new",
            # No system metadata: it records this process's command line, which may hold a tracking URI
            # with its password (`--set tracking.mlflow.tracking_uri=...`).
            settings=wandb.Settings(silent=True, x_disable_meta=True),
        )

    def close(self) -> None:
        """Stop wandb's service process, which the driver's own runs started."""
        if "wandb" in self.config.tracking.backends and "wandb" in sys.modules:
            with contextlib.suppress(Exception):
                sys.modules["wandb"].teardown()


def _mlflow_metrics(metrics: dict[str, float]) -> list[Any]:
    """One value per metric, at step 0: a retrain run or the report is one result, not a history."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric(key, value, now, 0) for key, value in metrics.items()]
