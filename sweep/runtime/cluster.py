"""Connecting to Ray: an existing cluster when one is named, else a Ray started in this process.

Addresses: ``auto`` (the cluster this machine belongs to), ``HOST:PORT`` or ``ray://HOST:PORT`` (a
head node's GCS or Ray Client port). ``http://HOST:8265`` names a cluster's job API instead: the CLI
submits the whole command there as a Ray job (see ``sweep.runtime.jobs``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

import ray

from sweep.runtime import local_ray, signals, token
from sweep.store.disk_faults import check_writable
from trainables.errors import InputError
from trainables.internals import (
    RAY_ADDRESS_ENV,
    RAY_LONGEST_SOCKET,
    RAY_START_TIMED_OUT,
    RAY_TMPDIR_ENV,
    bind_local_ray_to_loopback,
)
from trainables.quiet import quiet_environment

log = logging.getLogger("sweep")
_HOST_PORT = re.compile(r"^(?:ray://)?(?P<host>[A-Za-z0-9_.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


def is_job_api(address: str | None) -> bool:
    return address is not None and address.startswith(("http://", "https://"))


def given_address(address: str | None) -> tuple[str | None, str]:
    """The cluster a command joins, and what named it: ``--address``, else ``RAY_ADDRESS`` (as Ray's own
    tools read it, ``http://`` naming the job API), else none (a Ray started here)."""
    if address is not None:
        return address, "--address"
    # An empty RAY_ADDRESS is Ray's own "unset".
    return os.environ.get(RAY_ADDRESS_ENV) or None, RAY_ADDRESS_ENV


def check_address(address: str | None, source: str = "--address") -> None:
    """Refuse an address Ray cannot use, and one where nothing answers, before any work starts."""
    if address is None or address == "auto" or is_job_api(address):
        return
    if not address.strip():
        # `--address "$HEAD"` with HEAD unset: running here instead would ignore what was asked for.
        raise InputError(
            f"{source} {address!r}: empty (an unset shell variable?); give auto, HOST:PORT, ray://HOST:PORT or "
            "http://HOST:8265, or leave it out to start Ray here"
        )
    match = _HOST_PORT.match(address)
    if not match or not 0 < int(match["port"]) < 65536:
        raise InputError(
            f"{source} {address}: expected auto, HOST:PORT, ray://HOST:PORT or http://HOST:8265 (the job API)"
        )
    host, port = match["host"].strip("[]"), int(match["port"])
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        raise InputError(
            f"{source} {address}: nothing answers at {host}:{port} ({error.strerror or error}); "
            "start the head with `ray start --head` or check the address"
        ) from None


SOCKET_PATH_MAX = 107  # the bytes a Unix socket's path may have


def check_local_ray(address: str | None) -> None:
    """Where this command would start a Ray of its own (no ``--address``, no ``RAY_ADDRESS``), refuse a
    temporary folder Ray cannot use: read-only, under a file, or so long that its sockets' paths would
    not fit. Ray fails on each only once it starts, with a traceback, or waits for processes that never
    came up."""
    if given_address(address)[0]:
        return
    # Ray's own rule (ray._common.utils.get_default_system_temp_dir), repeated here to name the variable.
    for key in (RAY_TMPDIR_ENV, "TMPDIR"):
        if os.environ.get(key):
            tmp = os.environ[key]
            break
    else:
        key, tmp = "Ray's temporary folder", "/tmp"
    session_root = Path(tmp) / "ray"
    check_writable(session_root if session_root.is_dir() else tmp, f"run the command again (or set {key})", key=key)
    longest = len(os.fsencode(tmp)) + len(RAY_LONGEST_SOCKET)
    if longest > SOCKET_PATH_MAX:
        room = SOCKET_PATH_MAX - len(RAY_LONGEST_SOCKET)
        raise InputError(
            f"{key}: {tmp} is too long for Ray's sockets under it ({longest} of the {SOCKET_PATH_MAX} bytes a "
            f"socket path may have); give a folder path of at most {room} bytes"
        )


def start_ray(address: str | None = None) -> None:
    """Connect to ``address`` (or ``RAY_ADDRESS``, set by ``ray job submit``); else start Ray locally.

    A local Ray starts no dashboard and listens on this machine only.
    """
    if ray.is_initialized():
        return
    address, source = given_address(address)
    if address:
        check_address(address, source)
        try:
            # The job's own runtime environment (working_dir, pip) is kept as submitted.
            ray.init(address=address, logging_level=logging.WARNING)
        except ray.exceptions.AuthenticationError as error:
            raise token.refusal(address, error) from None
        except (ConnectionError, TimeoutError, RuntimeError) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InputError(f"{source} {address}: cannot connect to a Ray cluster ({message})") from None
        signals.reinstall()
        return
    # A local Ray listens on this machine only.
    bind_local_ray_to_loopback()
    # Read by tqdm and the tokenizers at import, before a trial can silence them. The workers of a Ray
    # started here inherit this process's environment; a runtime_env would add about 1.5 s to each
    # worker's start.
    quiet_environment()
    local: dict[str, Any] = {
        # A new Ray of our own, even where `ray start` left a cluster address file behind (a dead one hangs).
        "address": "local",
        "include_dashboard": False,
        "logging_level": logging.WARNING,
    }
    local_ray.mark_started()
    try:
        ray.init(**local)
    except Exception as error:  # Ray raises a bare Exception when its node start times out
        if RAY_START_TIMED_OUT not in str(error):
            raise
        # On a busy machine the node's agents can miss Ray's start-up deadline; a second start succeeds.
        logging.getLogger("sweep").warning("Ray's start timed out; starting it once more")
        ray.shutdown()
        ray.init(**local)
    signals.reinstall()


def check_resources(
    cpu: float,
    gpu: float,
    max_concurrent: int,
    autoscale: bool = False,
    timeout_s: float = 0.0,
) -> None:
    """Refuse a trial the cluster can never place, which Ray would otherwise wait for forever.

    Where the cluster can grow (``autoscale``), ask its autoscaler for ``max_concurrent`` trials' worth
    and wait up to ``timeout_s`` for room for one trial (Tune queues the rest until their nodes join)
    before refusing.
    """
    shortfall = _shortfall(cpu, gpu, max_concurrent)
    if shortfall is None:
        return
    if not autoscale:
        raise InputError(shortfall)
    from ray.autoscaler.sdk import request_resources

    bundle = {"CPU": cpu, **({"GPU": gpu} if gpu else {})}
    request_resources(bundles=[bundle] * max_concurrent)
    # The request stands until replaced: withdraw it when this process ends, so the cluster can shrink.
    atexit.register(_withdraw_request)
    started = time.monotonic()
    said = -math.inf
    while _shortfall(cpu, gpu, 1) is not None:
        waited = time.monotonic() - started
        if waited > timeout_s:
            raise InputError(f"{_shortfall(cpu, gpu, 1)} (after waiting {waited:.0f} s for the cluster to grow)")
        if waited - said >= PROGRESS_EVERY_S:
            total = ray.cluster_resources()
            log.info(
                "waiting for the cluster to grow: a trial needs %g CPU%s; it has %g CPUs and %g GPUs "
                "(%.0f s of cluster.scale_up_timeout_s %g)",
                cpu,
                f" and {gpu:g} GPU" if gpu else "",
                total.get("CPU", 0.0),
                total.get("GPU", 0.0),
                waited,
                timeout_s,
            )
            said = waited
        time.sleep(1.0)
    log.info("the cluster has room for a trial after %.0f s; more nodes may still join", time.monotonic() - started)


PROGRESS_EVERY_S = 10.0


def _withdraw_request() -> None:
    from ray.autoscaler.sdk import request_resources

    if ray.is_initialized():
        with contextlib.suppress(Exception):  # a cluster already gone has nothing to withdraw
            request_resources(bundles=[])


def _shortfall(cpu: float, gpu: float, max_concurrent: int) -> str | None:
    """What the cluster lacks for ``max_concurrent`` trials at once, as the refusal says it; None if nothing."""
    total = ray.cluster_resources()
    cpus, gpus = total.get("CPU", 0.0), total.get("GPU", 0.0)
    if gpu > gpus:
        return (
            f"resources.gpu: {gpu:g} per trial, but the Ray cluster has {gpus:g} GPUs; "
            "use resources.gpu: 0 on CPU machines or connect to a GPU cluster with --address"
        )
    if cpu > cpus:
        return f"resources.cpu: {cpu:g} per trial, but the Ray cluster has {cpus:g} CPUs"
    fits = min(int(cpus // cpu), int(gpus // gpu) if gpu else max_concurrent)
    if max_concurrent > fits:
        return (
            f"search.max_concurrent: {max_concurrent} trials at once need {max_concurrent * cpu:g} CPUs"
            + (f" and {max_concurrent * gpu:g} GPUs" if gpu else "")
            + f"; the cluster has {cpus:g} CPUs and {gpus:g} GPUs, so use 1..{max(fits, 1)}"
        )
    return None
