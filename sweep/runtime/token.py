"""Ray's token authentication, from the side of a command that connects to a cluster.

Ray 2.60 decides per process whether to send a token: ``RAY_AUTH_MODE=token`` sends the one found in
``RAY_AUTH_TOKEN``, the file ``RAY_AUTH_TOKEN_PATH`` names, or ``~/.ray/auth_token``; with the variable
unset, ``ray start --head`` turns authentication *on* as soon as that token file exists (a local
``ray.init()`` writes it), but a client connecting to an explicit address never does, so it is then
refused. ``sweep`` follows ``ray start``'s rule for its own connections: with the variable unset and a
token on this machine, it sends the token. Ray reads the variable once, when it is imported, so this
must run before the first ``import ray``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from trainables.errors import InputError
from trainables.internals import (
    RAY_AUTH_MODE_ENV,
    RAY_AUTH_TOKEN_ENV,
    RAY_AUTH_TOKEN_FILE,
    RAY_AUTH_TOKEN_PATH_ENV,
    ray_refused_token,
)

MODE_ENV, TOKEN_ENV, TOKEN_PATH_ENV = RAY_AUTH_MODE_ENV, RAY_AUTH_TOKEN_ENV, RAY_AUTH_TOKEN_PATH_ENV


def token_source() -> str | None:
    """Where Ray would find this machine's token (the variable's name or the file), or None."""
    if os.environ.get(TOKEN_ENV, "").strip():
        return TOKEN_ENV
    named = os.environ.get(TOKEN_PATH_ENV)
    path = Path(named).expanduser() if named else Path.home() / RAY_AUTH_TOKEN_FILE
    try:
        return str(path) if path.read_text(encoding="utf-8").strip() else None
    except (OSError, UnicodeDecodeError):
        return None


def adopt_local_token() -> None:
    """Send this machine's token to the clusters this process talks to, as ``ray start`` would enable it,
    unless the user chose a mode (``RAY_AUTH_MODE=disabled`` is respected).

    Only before Ray is imported: afterwards this process keeps the mode it read, while a Ray it starts
    would take the variable from the environment, and the two would then refuse each other.
    """
    if "ray" in sys.modules:
        return
    if MODE_ENV not in os.environ and token_source() is not None:
        os.environ[MODE_ENV] = "token"


def refusal(address: str, error: BaseException) -> InputError:
    """The one line for a cluster that refused this process's token, or wanted one it did not send."""
    text = str(error)
    source = token_source()
    if ray_refused_token(text):
        return InputError(
            f"--address {address}: the cluster refused the token from {source or 'this machine'}; "
            f"set {TOKEN_ENV} to the cluster's token (`ray get-auth-token` on its head prints it)"
        )
    if os.environ.get(MODE_ENV, "").lower() == "disabled":
        return InputError(
            f"--address {address}: the cluster requires Ray's token authentication, but {MODE_ENV}=disabled "
            f"here; unset it and set {TOKEN_ENV} to the cluster's token (`ray get-auth-token` on its head)"
        )
    return InputError(
        f"--address {address}: the cluster requires Ray's token authentication and this machine has no token; "
        f"set {TOKEN_ENV} to the cluster's token (`ray get-auth-token` on its head prints it)"
    )
