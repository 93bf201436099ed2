"""The driver's own tracking runs: each retrain run as it finishes, the trials' final statuses, and the
report with its files, through the libraries' own clients (the trials themselves are logged by Ray Tune's
callbacks, ``sweep.tracking.backends.tune_callbacks``). A tracker that fails here (its server gone) costs one
warning line and is not used again: the experiment folder is the record, a tracker a copy of it.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from sweep.config.experiment import ExperimentConfig
from sweep.tracking.backends import (
    AFTER_SWEEP_HTTP,
    EXPERIMENT_TAG,
    KIND_TAG,
    REPORT_RUN,
    RUN_TAG,
    STATUS_TAG,
    error_reason,
    mlflow_experiment,
    mlflow_uri,
    scoped_environment,
    wandb_init_args,
)
from trainables.internals import stop_wandb_service, wandb_settings_without_meta

log = logging.getLogger("sweep")


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
    """The report's headline numbers: STS-test of the best config (none where no trial was feasible), the
    defaults and the untrained model."""
    metrics: dict[str, float] = {}
    if report["test"] is not None:
        metrics["test_spearman_cosine"] = report["test"]["spearman_cosine"]
        metrics.update(_depths("test_spearman_cosine", report["test"]["per_layer"]))
    for name in ("default", "untrained"):
        test = (report.get(name) or {}).get("test")
        if test:
            metrics[f"{name}_test_spearman_cosine"] = test["spearman_cosine"]
            metrics.update(_depths(f"{name}_test_spearman_cosine", test["per_layer"]))
    if report["best"] is not None:
        metrics["best_sts_dev_spearman"] = report["best"]["sts_dev_spearman"]
    return {key: float(value) for key, value in metrics.items()}


class Tracker:
    """The trackers of one experiment after its trials: trial outcomes, retrain runs, the report."""

    def __init__(self, config: ExperimentConfig, group: str):
        self.config, self.group = config, group
        self.live: list[str] = [name for name in ("mlflow", "wandb") if name in config.tracking.backends]

    @contextlib.contextmanager
    def _guarded(self, backend: str, what: str) -> Iterator[None]:
        """A failure here is one warning line, and the backend is left alone for the rest of the run."""
        try:
            with scoped_environment(AFTER_SWEEP_HTTP):
                yield
        except Exception as error:
            self.live.remove(backend)
            log.warning(
                "tracking: %s failed while logging %s (%s); the experiment folder is complete, %s logs no more",
                backend, what, error_reason(error), backend,
            )  # fmt: skip

    def _client(self) -> tuple[Any, str]:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=mlflow_uri(self.config.tracking))
        name = mlflow_experiment(self.config)
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

        args = wandb_init_args(self.config, self.group)
        return wandb.init(
            **args,
            name=f"{self.group}-{name}",
            job_type=job_type,
            config=config,
            reinit="create_new",
            # No system metadata: it records this process's command line, which may hold a tracking URI
            # with its password (`--set tracking.mlflow.tracking_uri=...`).
            settings=wandb_settings_without_meta(),
        )

    def close(self) -> None:
        """Stop wandb's service process, which the driver's own runs started."""
        if "wandb" in self.config.tracking.backends:
            with contextlib.suppress(Exception):
                stop_wandb_service()


def _mlflow_metrics(metrics: dict[str, float]) -> list[Any]:
    """One value per metric, at step 0: a retrain run or the report is one result, not a history."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric(key, value, now, 0) for key, value in metrics.items()]
