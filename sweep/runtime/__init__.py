"""Where the sweep runs: joining a Ray cluster or starting Ray here, Ray jobs and their uploads, Ray's token,
stop signals, credentials kept out of Ray's files.
"""

from __future__ import annotations

from sweep.lazy import exports

# The names other packages use, and the module each lives in.
_PUBLIC = {
    "check_address": "cluster",
    "check_local_ray": "cluster",
    "check_resources": "cluster",
    "given_address": "cluster",
    "is_job_api": "cluster",
    "start_ray": "cluster",
    "submit": "jobs",
    "without_address": "jobs",
    "stop_local_ray": "local_ray",
}
# Modules other packages use whole.
_MODULES = (
    "credentials",
    "signals",
    "token",
)
__all__, __getattr__ = exports(__name__, _PUBLIC, _MODULES)
