"""``--address http://HOST:8265``: run the same command on a Ray cluster as a Ray job.

This is ``ray job submit --working-dir . -- python -m sweep ...`` from Python: the checkout travels
as the job's working directory (without what ``.gitignore`` and ``.rayignore`` leave out, nor files that
hold secrets: ``sweep.runtime.upload``), the job's log streams here, and the job's exit status becomes this
command's. Credentials stay on this machine: the command sent carries no URI's user or password (a
cluster keeps the entrypoint in its job table and logs), so the cluster's nodes need their own.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from sweep.config.tracking import redact
from sweep.runtime import token, upload
from trainables.errors import InputError
from trainables.internals import RAY_JOB_AGENT_NOT_READY

POLL_S = 2.0


def submit(address: str, argv: list[str], working_dir: Path | str = ".", source: str = "--address") -> int:
    """Submit ``python -m sweep ARGV`` to the job API at ``address`` (named by ``source``: ``--address`` or
    ``RAY_ADDRESS``), follow its log, return its exit status."""
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobStatus, JobSubmissionClient

    try:
        client = JobSubmissionClient(address)
    except AuthenticationError as error:
        raise token.refusal(address, error) from None
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{source} {address}: no Ray job API answers there ({reason})") from None
    sent = [redact(arg) for arg in argv]
    entrypoint = shlex.join(["python", "-m", "sweep", *sent])
    if sent != argv:
        print(
            "sweep: the job's command leaves out the user and password written in a URI; the cluster's nodes "
            "need them in their own environment (MLFLOW_TRACKING_USERNAME / _PASSWORD for MLflow)",
            flush=True,
        )
    skipped = upload.left_out(working_dir)
    if skipped:
        print(f"sweep: {upload.left_out_line(skipped)}", flush=True)
    job_id = _submit(client, entrypoint, upload.runtime_env(working_dir))
    print(f"submitted Ray job {job_id} to {address}: {entrypoint}", flush=True)
    shown = 0
    while True:
        status = client.get_job_status(job_id)
        logs = client.get_job_logs(job_id)
        print(logs[shown:], end="", flush=True)
        shown = len(logs)
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
            break
        time.sleep(POLL_S)
    info = client.get_job_info(job_id)
    print(f"Ray job {job_id}: {status.value}", flush=True)
    if status == JobStatus.SUCCEEDED:
        return 0
    code = getattr(info, "driver_exit_code", None)
    return code if isinstance(code, int) and code != 0 else 1


def _submit(client, entrypoint: str, runtime_env: dict, wait_s: float = 60.0) -> str:
    """Submit, waiting while a head that has just started has no job agent yet."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env)
        except RuntimeError as error:
            if RAY_JOB_AGENT_NOT_READY not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(POLL_S)


def without_address(argv: list[str]) -> list[str]:
    """``argv`` less its ``--address`` option: the job runs on the cluster it was sent to."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--address":
            skip = True
        elif not arg.startswith("--address="):
            kept.append(arg)
    return kept
