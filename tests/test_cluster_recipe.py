"""The README's cluster recipe, run line by line on a machine where a local sweep has run before.

That local sweep's ``ray.init()`` leaves a token in ``~/.ray/auth_token``; from then on Ray 2.60's
``ray start --head`` turns token authentication on, and a client that sends no token is refused.
Every command here runs in the HOME of the session's shared smoke run (``smoke_home``), so the token
is the one that local sweep left, and nothing touches the user's. Only what a test must change is
changed in the README's lines: the ports (free ones, a Ray may already hold the defaults), the head's
temporary folder (its own: another test's head may run beside it), the recipe (the smoke one, shrunk),
the results folder (a local one) and ``--block`` (so that the head can be stopped with everything it
started).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, user_env
from .servers import NO_DRAIN, head_options, head_temp_dir, stop_server, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]
BIN = Path(sys.executable).parent
SHRUNK = "search_spaces/smoke.yaml --set search.num_samples=1 --set retrain.defaults=false --set 'retrain.seeds=[13]'"


def readme_recipe() -> list[str]:
    """The command lines of the README's cluster recipe (the first bash block under "On a Ray cluster"),
    continuation lines joined, comments dropped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## On a Ray cluster") :]
    block = section[section.index("```bash\n") + len("```bash\n") :]
    block = block[: block.index("```")].replace("\\\n", " ")
    lines = [re.sub(r"\s+# .*$", "", line).strip() for line in block.splitlines()]
    return [re.sub(r"\s+", " ", line) for line in lines if line and not line.startswith("#")]


def _env(home: Path) -> dict[str, str]:
    # One machine, no other node may join: Ray then binds every server to 127.0.0.1.
    return {
        **user_env(home),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    }


def _adapted(line: str, dashboard: int, results: Path) -> str:
    line = line.replace("http://127.0.0.1:8265", f"http://127.0.0.1:{dashboard}")
    line = line.replace("search_spaces/adaptive_layer.yaml", SHRUNK)
    return line.replace("s3://my-bucket/sweeps", str(results))


@pytest.fixture(scope="module")
def home(smoke_run, smoke_home):
    """A HOME where a local `sweep run` has run (the session's smoke run), as on a user's machine before
    they try the cluster."""
    assert (smoke_home / ".ray" / "auth_token").is_file()  # what its local ray.init() left
    return smoke_home


@pytest.fixture(scope="module")
def recipe(home, tmp_path_factory):
    """The README's lines up to and including `ray start --head`, run in that order; yields the rest of the
    lines, the job API's port and the environment the README's shell has by then."""
    lines = readme_recipe()
    env = _env(home)
    log = tmp_path_factory.mktemp("head") / "head.log"
    head, temp_dir = None, head_temp_dir()
    dashboard, options = head_options(temp_dir)
    try:
        while lines:
            line = lines.pop(0)
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").partition("=")
                env[key] = value
            elif line.startswith("ray start --head"):
                # The README's line names --dashboard-host 127.0.0.1, which head_options repeats.
                head = subprocess.Popen(
                    [*shlex.split(line), *options],
                    env={**env, **NO_DRAIN},
                    stdout=log.open("w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                wait_for(f"http://127.0.0.1:{dashboard}/api/version")
                break
            else:
                done = subprocess.run(line, shell=True, env=env, capture_output=True, text=True, timeout=60)
                assert done.returncode == 0, f"{line}: {done.stderr[-2000:]}"
        assert head is not None, "the README's recipe starts no head"
        yield lines, dashboard, env
    finally:
        if head is not None:
            stop_server(head)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_the_head_of_the_readme_recipe_requires_a_token(recipe):
    _, dashboard, _ = recipe
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{dashboard}/api/jobs/", timeout=10)
    assert refused.value.code == 401


def test_the_readme_cluster_recipe_runs_as_written_after_a_local_sweep(recipe, tmp_path):
    lines, dashboard, env = recipe
    submit = next(line for line in lines if line.startswith("ray job submit"))
    ours = next(line for line in lines if line.startswith("python -m sweep run") and "--address http" in line)
    results = tmp_path / "sweeps"

    job = subprocess.run(
        _adapted(submit, dashboard, results), shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert "succeeded" in job.stdout + job.stderr
    # `sweep run --address http://...` in a shell that never exported RAY_AUTH_MODE: it sends the token itself.
    plain = _env(Path(env["HOME"]))
    ours = _adapted(ours, dashboard, results)
    again = subprocess.run(ours, shell=True, cwd=ROOT, env=plain, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "SUCCEEDED" in again.stdout
    folders = sorted(results.iterdir())
    assert len(folders) == 2
    assert all((folder / "report.json").is_file() for folder in folders)


def test_a_machine_without_the_token_is_refused_by_the_job_api_in_one_line(recipe, tmp_path):
    _, dashboard, _ = recipe
    address = f"http://127.0.0.1:{dashboard}"
    stranger = tmp_path / "home"  # no ~/.ray/auth_token
    stranger.mkdir()
    command = [sys.executable, "-m", "sweep", "run", *shlex.split(SHRUNK), "--address", address]
    command += ["--results-dir", str(tmp_path / "results")]
    done = subprocess.run(command, cwd=ROOT, env=_env(stranger), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "requires Ray's token authentication" in done.stderr and "RAY_AUTH_TOKEN" in done.stderr
    assert not (tmp_path / "results").exists()
