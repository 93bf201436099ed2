"""Secrets stay out of files, logs and uploads, for real: every credential variable set to a value of its own,
a local sweep with all three trackers (MLflow given a user and password in its URI) and the same sweep sent as
a Ray job to a head on 127.0.0.1 from a folder that holds secret files; then every file the sweeps, the local
Ray, the head, the job and the MLflow server wrote, and everything printed, is searched for each value.
Besides: what a job's upload leaves out, and a resume that would send this machine's MLflow credentials to a
server that a folder names."""

from __future__ import annotations

import base64
import http.server
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import ClassVar

import pytest

from sweep.cli import main
from sweep.config.experiment import load_config, to_yaml
from sweep.runtime import upload

from . import servers
from .conftest import ROOT, SMOKE, user_env

pytestmark = [pytest.mark.cluster, pytest.mark.tracking, pytest.mark.timeout(900)]
BIN = Path(sys.executable).parent
# One trial and one retrain seed: what is searched for does not depend on how many runs write it.
SMALL = ["search.num_samples=1", "search.max_concurrent=1", "retrain.seeds=[1]", "retrain.defaults=false"]
# Files a working directory may hold that must not reach a cluster, each with a secret of its own.
PLANTED = {".env": "dotenv", ".aws/credentials": "aws-file", ".ssh/id_rsa": "ssh-key", "deploy.pem": "pem"}
IGNORED = "notes/private.txt"  # named by the folder's .gitignore


def _value(name: str) -> str:
    return f"{name.lower()}-{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def sentinels() -> dict[str, str]:
    """A value of its own for every credential variable, and for the user and password of the MLflow URI."""
    names = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "MLFLOW_TRACKING_TOKEN"]
    names += ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "PGPASSWORD"]
    values = {name: _value(name) for name in names}
    values["WANDB_API_KEY"] = secrets.token_hex(20)  # the 40 characters of a W&B key
    values["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    values["uri user"], values["uri password"] = _value("alice"), _value("pw")
    return values


def _planted_folder(target: Path) -> dict[str, str]:
    """The sources a job needs, as a user's checkout holds them, beside files that hold secrets; returns
    each planted file's secret by its path."""
    for name in ("sweep", "trainables", "search_spaces", "data"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    planted = {path: _value(label) for path, label in {**PLANTED, IGNORED: "ignored"}.items()}
    for path, value in planted.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(f"secret={value}\n")
    (target / ".gitignore").write_text("notes/\n")
    return planted


@pytest.fixture(scope="module")
def secrets_env(sentinels, tmp_path_factory) -> dict[str, str]:
    env = user_env(tmp_path_factory.mktemp("home"))
    env.update({name: value for name, value in sentinels.items() if name.isupper()})
    env.update({"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path_factory.mktemp("wandb"))})
    return env


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory):
    store = tmp_path_factory.mktemp("mlflow")
    with servers.mlflow_server(store) as url:
        yield url, store


def _sets(values: list[str]) -> list[str]:
    return [arg for value in values for arg in ("--set", value)]


def _mlflow_uri(mlflow, sentinels) -> str:
    return mlflow[0].replace("http://", f"http://{sentinels['uri user']}:{sentinels['uri password']}@")


@pytest.fixture(scope="module")
def local_sweep(secrets_env, sentinels, mlflow, tmp_path_factory):
    """`sweep run` with a Ray of its own (its folder known through RAY_TMPDIR) and every tracker on."""
    results = tmp_path_factory.mktemp("results")
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths must fit
    trackers = ["tracking.tensorboard=true", f"tracking.mlflow.tracking_uri={_mlflow_uri(mlflow, sentinels)}"]
    trackers.append("tracking.wandb.mode=offline")
    command = [sys.executable, "-m", "sweep", "run", str(SMOKE), "--results-dir", str(results)]
    env = {**secrets_env, "RAY_TMPDIR": str(ray_tmp)}
    try:
        command += _sets(SMALL + trackers)
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=800)
        yield done, [results, ray_tmp, Path(secrets_env["HOME"]), Path(secrets_env["WANDB_DIR"])]
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_head(secrets_env, tmp_path_factory):
    """A Ray head on 127.0.0.1 with token authentication, holding the credential variables as a cluster's
    head would; yields its job API URL and its own folder."""
    env = {**secrets_env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "RAY_AUTH_MODE": "token"}
    log = tmp_path_factory.mktemp("head") / "head.log"
    with servers.ray_head(BIN / "ray", env, log) as (url, temp_dir, _):
        yield url, [Path(temp_dir), log]


@pytest.fixture(scope="module")
def job(ray_head, secrets_env, sentinels, mlflow, tmp_path_factory):
    """`sweep run --address http://…` from a folder holding secret files, with the MLflow URI's password."""
    url, _ = ray_head
    folder = tmp_path_factory.mktemp("checkout")
    planted = _planted_folder(folder)
    results = tmp_path_factory.mktemp("job-results")
    uri = _mlflow_uri(mlflow, sentinels)
    command = [sys.executable, "-m", "sweep", "run", "search_spaces/smoke.yaml", "--address", url]
    command += ["--results-dir", str(results), *_sets([*SMALL, f"tracking.mlflow.tracking_uri={uri}"])]
    done = subprocess.run(command, cwd=folder, env=secrets_env, capture_output=True, text=True, timeout=800)
    return done, planted, [results, *ray_head[1]]


def _holding(paths: list[Path], values: dict[str, str]) -> list[str]:
    """Each file under ``paths`` that holds one of ``values``, with the value's name."""
    found = []
    for top in paths:
        for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [f"{path}: {name}" for name, value in values.items() if value.encode() in data]
    return found


def test_a_local_sweep_writes_and_prints_no_credential(local_sweep, sentinels, mlflow):
    done, folders = local_sweep
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (experiment,) = folders[0].iterdir()
    assert (experiment / "report.json").is_file()
    assert any(folders[1].rglob("runtime_env_agent.log")), "the local Ray wrote no runtime env log where looked"
    assert any(folders[3].rglob("*.wandb")), "no W&B run was written"
    assert _holding([*folders, mlflow[1]], sentinels) == []
    printed = done.stdout + done.stderr
    assert [name for name, value in sentinels.items() if value in printed] == []


def test_a_job_writes_sends_and_prints_no_credential_and_leaves_secret_files_behind(job, sentinels, mlflow):
    done, planted, folders = job
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (experiment,) = folders[0].iterdir()
    assert json.loads((experiment / "report.json").read_text())["trials"]["total"] == 1
    head = folders[1]
    assert any(head.rglob("runtime_env_agent.log")) and any(head.rglob("job-driver-*.log"))
    (package,) = {path.parent.parent for path in head.rglob("search_spaces/smoke.yaml")}  # the unpacked upload
    assert (package / "sweep" / "cli.py").is_file()
    assert _holding([*folders, mlflow[1]], {**sentinels, **planted}) == []
    printed = done.stdout + done.stderr
    assert [name for name, value in {**sentinels, **planted}.items() if value in printed] == []
    (line,) = [line for line in done.stdout.splitlines() if "working directory leaves out" in line]
    for path in (".aws/", ".env", ".ssh/", "deploy.pem", IGNORED):
        assert path in line.split(": ", 2)[-1].split(", "), line
    assert "leaves out the user and password written in a URI" in done.stdout


def test_the_upload_leaves_out_secret_files_and_what_gitignore_names(tmp_path):
    from ray._private.runtime_env.packaging import create_package
    from ray._private.runtime_env.working_dir import upload_working_dir_if_needed

    folder = tmp_path / "checkout"
    for path in [*PLANTED, IGNORED, "keep.py", "configs/run.yaml", ".env.local", "certs/tls.key"]:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text("x\n")
    (folder / ".gitignore").write_text("notes/\n")
    package = tmp_path / "package.zip"

    def pack(working_dir, excludes, is_file=False):  # what Ray's job client does with the folder
        create_package(working_dir, package, include_gitignore=True, excludes=excludes)

    upload_working_dir_if_needed(upload.runtime_env(folder), include_gitignore=True, upload_fn=pack)
    sent = set(zipfile.ZipFile(package).namelist())
    assert {"keep.py", "configs/run.yaml", ".gitignore"} <= sent
    assert not [name for name in sent if name.startswith((".env", ".aws", ".ssh", "notes", "certs/tls"))], sent
    assert "deploy.pem" not in sent
    left_out = [".aws/", ".env", ".env.local", ".ssh/", "certs/tls.key", "deploy.pem", "notes/private.txt"]
    assert upload.left_out(folder) == left_out


def test_the_repository_s_rayignore_leaves_out_the_same_secret_files_for_ray_job_submit():
    lines = {line.strip() for line in (ROOT / ".rayignore").read_text().splitlines()}
    assert set(upload.SECRET_FILES) <= lines


def test_what_a_job_is_sent_keeps_a_database_user_but_no_password_and_no_tracking_userinfo():
    from sweep.config.tracking import redact

    assert redact("search.storage=postgresql://sweeper@db/sweeps") == "search.storage=postgresql://sweeper@db/sweeps"
    assert redact("postgresql://sweeper:pw@db/sweeps") == "postgresql://db/sweeps"
    assert (
        redact("tracking.mlflow.tracking_uri=https://bob:pw@h:5000/x")
        == "tracking.mlflow.tracking_uri=https://h:5000/x"
    )
    assert redact("https://token@h and s3://bucket/sweeps") == "https://h and s3://bucket/sweeps"


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A server a folder's config.yaml names: it notes what each request carried, and fails it."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self):
        self.seen.append(dict(self.headers))
        self.send_error(500)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def handed_folder(tmp_path):
    """An experiment folder someone handed over, whose config names their MLflow server (this recorder)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.seen = []
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    folder = tmp_path / "smoke-20260101-000000"
    folder.mkdir()
    (folder / "config.yaml").write_text(to_yaml(load_config(SMOKE, [f"tracking.mlflow.tracking_uri={uri}"])))
    (folder / "experiment.json").write_text(json.dumps({"command": "python -m sweep run smoke.yaml", "n_layers": 4}))
    try:
        yield folder, uri
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def my_mlflow_credentials(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "me")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "my-password")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")  # the server configured on this machine
    return "Basic " + base64.b64encode(b"me:my-password").decode()


@pytest.mark.parametrize("command", ["resume", "retrain"])
def test_a_folder_naming_another_mlflow_server_is_refused_before_any_credential_goes_there(
    handed_folder, my_mlflow_credentials, command, capsys
):
    folder, uri = handed_folder
    assert main([command, str(folder)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"sweep: error: tracking.mlflow.tracking_uri: {folder}/config.yaml names {uri}, not")
    assert "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD" in line and "my-password" not in line
    assert line.endswith("add --trust-tracking-uri if you trust that server")
    assert _Recorder.seen == []


def test_a_folder_s_mlflow_server_gets_the_credentials_when_trusted_or_configured_here(
    handed_folder, my_mlflow_credentials, monkeypatch
):
    folder, uri = handed_folder
    # The recorder fails every request, so each command ends with exit 2 once it has asked the server.
    assert main(["resume", str(folder), "--trust-tracking-uri"]) == 2
    assert _Recorder.seen and {seen.get("Authorization") for seen in _Recorder.seen} == {my_mlflow_credentials}
    asked = len(_Recorder.seen)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri + "/")
    assert main(["resume", str(folder)]) == 2
    assert len(_Recorder.seen) > asked
