"""Connecting to Ray: an existing cluster when one is named, else a Ray started in this process.

Addresses: ``auto`` (the cluster this machine belongs to), ``HOST:PORT`` or ``ray://HOST:PORT`` (a
head node's GCS or Ray Client port). ``http://HOST:8265`` names a cluster's job API instead: the CLI
submits the whole command there as a Ray job (see ``sweep.jobs``).
"""

from __future__ import annotations

import logging
import os
import re
import socket

import ray

from trainables.errors import InputError

START_TIMEOUT = "timed out during startup"  # in the error of a local Ray start that missed its deadline
_HOST_PORT = re.compile(r"^(?:ray://)?(?P<host>[A-Za-z0-9_.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


def is_job_api(address: str | None) -> bool:
    return bool(address) and address.startswith(("http://", "https://"))


def check_address(address: str | None) -> None:
    """Refuse an address Ray cannot use, and one where nothing answers, before any work starts."""
    if not address or address == "auto" or is_job_api(address):
        return
    match = _HOST_PORT.match(address)
    if not match or not 0 < int(match["port"]) < 65536:
        raise InputError(
            f"--address {address}: expected auto, HOST:PORT, ray://HOST:PORT or http://HOST:8265 (the job API)"
        )
    host, port = match["host"].strip("[]"), int(match["port"])
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        raise InputError(
            f"--address {address}: nothing answers at {host}:{port} ({error.strerror or error}); "
            "start the head with `ray start --head` or check the address"
        ) from None


def start_ray(address: str | None = None) -> None:
    """Connect to ``address`` (or ``RAY_ADDRESS``, set by ``ray job submit``); else start Ray locally.

    A local Ray starts no dashboard and listens on this machine only.
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        check_address(address)
        try:
            # The job's own runtime environment (working_dir, pip) is kept as submitted.
            ray.init(address=address, logging_level=logging.WARNING)
        except (ConnectionError, TimeoutError, RuntimeError) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InputError(f"--address {address}: cannot connect to a Ray cluster ({message})") from None
        return
    _this_machine_only()
    # Read by tqdm at import, before a trial can silence it: the model card's progress bars. The workers
    # of a Ray started here inherit this process's environment; a runtime_env would add about 1.5 s to
    # each worker's start.
    os.environ.setdefault("TQDM_DISABLE", "1")
    local = {
        # A new Ray of our own, even where `ray start` left a cluster address file behind (a dead one hangs).
        "address": "local",
        "include_dashboard": False,
        "logging_level": logging.WARNING,
    }
    try:
        ray.init(**local)
    except Exception as error:  # Ray raises a bare Exception when its node start times out
        if START_TIMEOUT not in str(error):
            raise
        # On a busy machine the node's agents can miss Ray's start-up deadline; a second start succeeds.
        logging.getLogger("sweep").warning("Ray's start timed out; starting it once more")
        ray.shutdown()
        ray.init(**local)


def check_resources(cpu: float, gpu: float, max_concurrent: int) -> None:
    """Refuse a trial the cluster can never place, which Ray would otherwise wait for forever."""
    total = ray.cluster_resources()
    cpus, gpus = total.get("CPU", 0.0), total.get("GPU", 0.0)
    if gpu > gpus:
        raise InputError(
            f"resources.gpu: {gpu:g} per trial, but the Ray cluster has {gpus:g} GPUs; "
            "use resources.gpu: 0 on CPU machines or connect to a GPU cluster with --address"
        )
    if cpu > cpus:
        raise InputError(f"resources.cpu: {cpu:g} per trial, but the Ray cluster has {cpus:g} CPUs")
    fits = min(int(cpus // cpu), int(gpus // gpu) if gpu else max_concurrent)
    if max_concurrent > fits:
        raise InputError(
            f"search.max_concurrent: {max_concurrent} trials at once need {max_concurrent * cpu:g} CPUs"
            + (f" and {max_concurrent * gpu:g} GPUs" if gpu else "")
            + f"; the cluster has {cpus:g} CPUs and {gpus:g} GPUs, so use 1..{max(fits, 1)}"
        )


def _this_machine_only() -> None:
    """Make a Ray started here bind its servers to 127.0.0.1 rather than every interface.

    Ray does so when it believes no other node may join (its macOS/Windows default). The switch is
    read at call time from ``ray_constants`` in this process and from the environment in the
    processes Ray starts.
    """
    from ray._private import ray_constants

    os.environ[ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
