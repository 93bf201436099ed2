"""The Ray this process started, if any: what a second stop signal and the command line's last resort kill
at once, without reaching for the code that connects to Ray.
"""

from __future__ import annotations

_state = {"started": False}


def mark_started() -> None:
    """Called just before this process starts a Ray of its own."""
    _state["started"] = True


def stop_local_ray() -> None:
    """Kill the processes of a Ray this process started, at once (they all descend from it); a cluster
    it joined is left alone.

    For a process about to leave without Ray's own shutdown, which after a signal sent to the whole
    process group waits a minute for a head that is gone; without this, Ray's agents would outlive it
    by as long.
    """
    import psutil

    if not _state["started"]:
        return
    processes = psutil.Process().children(recursive=True)
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(processes, timeout=10)
