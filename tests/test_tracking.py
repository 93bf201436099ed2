"""Experiment tracking for real: one 3-trial smoke sweep logged to TensorBoard, to an MLflow server this
module starts on 127.0.0.1, and to W&B offline, then read back with each library's own reader and
compared with trials.parquet, reports.parquet and report.json."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sweep.cli import main
from sweep.config.experiment import load_config, to_yaml

from . import servers
from .conftest import ROOT, SMOKE
from .servers import free_port

pytestmark = pytest.mark.tracking
PASSWORD = "s3cret-pw"  # given in the MLflow URI: must reach no file
OBJECTIVE = "sts_dev_spearman_cosine"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    with servers.mlflow_server(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


@pytest.fixture(scope="module")
def tracked(ray_session, mlflow_server, tmp_path_factory):
    """One smoke sweep of 3 trials and a one-seed retrain with all three trackers on."""
    results = tmp_path_factory.mktemp("results")
    wandb_dir = tmp_path_factory.mktemp("wandb")
    uri = mlflow_server.replace("http://", f"http://alice:{PASSWORD}@")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        patch.setenv("WANDB_DIR", str(wandb_dir))
        patch.setenv("WANDB_MODE", "offline")
        # One trial at a time: one trial worker to start (and to import the trackers), not two.
        sets = [
            "search.num_samples=3",
            "search.max_concurrent=1",
            "retrain.seeds=[13]",
            "retrain.arms=[best, defaults]",
            "tracking.tensorboard=true",
        ]
        sets += [f"tracking.mlflow.tracking_uri={uri}", "tracking.wandb.mode=offline"]
        argv = ["run", str(SMOKE), "--results-dir", str(results)]
        assert main([*argv, *[arg for key in sets for arg in ("--set", key)]]) == 0
    (folder,) = results.iterdir()
    return {"folder": folder, "mlflow": mlflow_server, "wandb_dir": wandb_dir}


def _frames(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    report = json.loads((folder / "report.json").read_text())
    return pd.read_parquet(folder / "trials.parquet"), pd.read_parquet(folder / "reports.parquet"), report


def _mlflow_runs(tracked) -> dict[str, object]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracked["mlflow"])
    experiment = client.get_experiment_by_name("smoke")
    filter_string = f"tags.`sweep.experiment` = '{tracked['folder'].name}'"
    runs = client.search_runs([experiment.experiment_id], filter_string)
    return client, {run.data.tags["sweep.run"]: run for run in runs}


def test_every_trial_is_an_mlflow_run_with_its_parameters_every_evaluation_and_its_outcome(tracked):
    trials, reports, _ = _frames(tracked["folder"])
    client, runs = _mlflow_runs(tracked)
    assert len(trials) == 3
    for trial in trials.itertuples():
        run = runs[trial.trial_id]
        assert run.data.tags["sweep.status"] == trial.status
        assert run.info.status == "FINISHED"
        assert float(run.data.params["kl_temperature"]) == pytest.approx(trial.kl_temperature)
        rows = reports[reports["trial_id"] == trial.trial_id].sort_values("training_iteration")
        for metric in (OBJECTIVE, f"{OBJECTIVE}_depth_1", f"{OBJECTIVE}_depth_4", "loss"):
            history = client.get_metric_history(run.info.run_id, metric)
            logged = [point.value for point in sorted(history, key=lambda point: point.step)]
            assert logged == pytest.approx(rows[metric].tolist()), metric
            assert [point.step for point in sorted(history, key=lambda p: p.step)] == rows[
                "training_iteration"
            ].tolist()


def test_each_retrain_run_and_the_report_with_its_plots_are_mlflow_runs(tracked):
    _, _, report = _frames(tracked["folder"])
    client, runs = _mlflow_runs(tracked)
    best = runs["best-seed13"].data
    assert best.metrics["test_spearman_cosine"] == pytest.approx(report["test"]["per_seed"][0]["spearman_cosine"])
    assert best.params["seed"] == "13"
    depths = [best.metrics[f"test_spearman_cosine_depth_{d}"] for d in range(1, 5)]
    assert depths == pytest.approx(report["test"]["per_layer"])
    untrained = runs["untrained"].data
    assert untrained.metrics["test_spearman_cosine"] == pytest.approx(report["untrained"]["test"]["spearman_cosine"])
    if report["default"]["test"] is not None and "default-seed13" in runs:
        default = runs["default-seed13"].data.metrics["test_spearman_cosine"]
        assert default == pytest.approx(report["default"]["test"]["spearman_cosine"])
    report_run = runs["report"]
    artifacts = {item.path for item in client.list_artifacts(report_run.info.run_id)}
    assert {"report.md", "report.json", *(plot["file"] for plot in report["plots"])} <= artifacts
    assert report_run.data.metrics["test_spearman_cosine"] == pytest.approx(report["test"]["spearman_cosine"])


def test_tensorboard_event_files_hold_every_evaluation_of_every_trial(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trials, reports, _ = _frames(tracked["folder"])
    for trial_id in trials["trial_id"]:
        events = EventAccumulator(str(tracked["folder"] / f"trial_{trial_id}"))
        events.Reload()
        rows = reports[reports["trial_id"] == trial_id].sort_values("training_iteration")
        scalars = events.Scalars(f"ray/tune/{OBJECTIVE}")
        assert [point.step for point in scalars] == rows["training_iteration"].tolist()
        assert [point.value for point in scalars] == pytest.approx(rows[OBJECTIVE].tolist(), abs=1e-6)


def _wandb_records(path: Path):
    """The records of a .wandb file: wandb's protobuf messages, in the LevelDB log format it writes
    (7-byte file header, 32 KiB blocks, each chunk: crc32c, length, type)."""
    from wandb.proto import wandb_internal_pb2

    data, block, position, pending = path.read_bytes(), 32768, 7, b""
    while position + 7 <= len(data):
        room = block - position % block
        if room < 7:  # the rest of a block too small for a header is padding
            position += room
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _wandb_history(path: Path) -> tuple[str, list[dict]]:
    name, rows = "", []
    for record in _wandb_records(path):
        if record.HasField("run"):
            name = record.run.display_name
        if record.HasField("history"):
            rows.append(
                {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            )
    return name, rows


def test_wandb_offline_runs_hold_every_evaluation_and_the_retrain(tracked):
    trials, reports, report = _frames(tracked["folder"])
    runs = dict(_wandb_history(path) for path in tracked["wandb_dir"].rglob("*.wandb"))
    for trial_id in trials["trial_id"]:
        (name,) = [name for name in runs if name.endswith(f"_{trial_id}")]
        rows = reports[reports["trial_id"] == trial_id].sort_values("training_iteration")
        assert [row[OBJECTIVE] for row in runs[name]] == pytest.approx(rows[OBJECTIVE].tolist())
        assert [row["loss"] for row in runs[name]] == pytest.approx(rows["loss"].tolist())
    (best,) = runs[f"{tracked['folder'].name}-best-seed13"]
    assert best["test_spearman_cosine"] == pytest.approx(report["test"]["per_seed"][0]["spearman_cosine"])
    assert f"{tracked['folder'].name}-report" in runs


def test_no_file_of_the_experiment_holds_the_mlflow_password(tracked):
    for path in tracked["folder"].rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    saved = (tracked["folder"] / "config.yaml").read_text()
    assert f"tracking_uri: {tracked['mlflow']}" in saved


def test_a_password_in_the_mlflow_uri_is_left_out_of_the_saved_config():
    config = load_config(SMOKE, ["tracking.mlflow.tracking_uri=https://bob:hunter2@mlflow.example.com:5000/x"])
    assert config.tracking.mlflow.tracking_uri == "https://bob:hunter2@mlflow.example.com:5000/x"
    assert "tracking_uri: https://mlflow.example.com:5000/x" in to_yaml(config)
    assert "hunter2" not in to_yaml(config)


def test_tensorboard_logging_keeps_torch_out_of_the_driver():
    code = (
        "import sys\n"
        "from sweep.config import load_config\n"
        "from sweep.tracking import tune_callbacks\n"
        "callbacks = tune_callbacks(load_config(sys.argv[1], ['tracking.tensorboard=true']), 'x')\n"
        "print(type(callbacks[0]).__name__, 'torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(SMOKE)], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.split() == ["TBXLoggerCallback", "False"]


def _refused(tmp_path: Path, sets: list[str], prelude: str = "") -> subprocess.CompletedProcess:
    results = tmp_path / "results"
    argv = ["run", str(SMOKE), "--results-dir", str(results), *[arg for key in sets for arg in ("--set", key)]]
    code = f"import sys\n{prelude}from sweep.cli import main\nsys.exit(main({argv!r}))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert not results.exists() or not any(results.iterdir())
    return done


def test_an_mlflow_server_that_does_not_answer_is_refused_before_any_trial(tmp_path):
    port = free_port()  # nothing listens there
    done = _refused(tmp_path, [f"tracking.mlflow.tracking_uri=http://carol:{PASSWORD}@127.0.0.1:{port}"])
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(
        f"sweep: error: tracking.mlflow.tracking_uri: no MLflow server answers at http://127.0.0.1:{port}"
    )
    assert PASSWORD not in done.stderr


def test_a_tracker_whose_package_cannot_be_imported_is_refused_before_any_trial(tmp_path):
    # wandb is installed here; a None entry in sys.modules makes its import fail as an absent package does.
    done = _refused(tmp_path, ["tracking.wandb.mode=offline"], prelude="sys.modules['wandb'] = None\n")
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("sweep: error: tracking.wandb: the wandb package cannot be imported")
    assert "pip install 'adaptive-layer-sweep[wandb]'" in line


def test_a_tracker_gone_after_the_sweep_costs_one_warning_and_is_not_used_again(caplog):
    from sweep.tracking.tracker import Tracker

    port = free_port()  # the server has gone: nothing listens there any more
    config = load_config(SMOKE, [f"tracking.mlflow.tracking_uri=http://127.0.0.1:{port}"])
    tracker = Tracker(config, "smoke-gone")
    record = {
        "sts_dev": {"full": {"spearman_cosine": 0.1}},
        "test": {"full": {"spearman_cosine": 0.2}, "per_depth": [0.1]},
    }
    with caplog.at_level("WARNING", logger="sweep"):
        tracker.log_retrain_run("untrained", record)
        tracker.log_retrain_run("untrained", record)
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "sweep"]
    assert warning.startswith("tracking: mlflow failed while logging retrain run untrained (")
    assert tracker.live == []
