"""Loaded by every Python process of a test node that shares nothing with the driver (this folder is on
the node's PYTHONPATH): it records each file under ``SWEEP_TEST_FORBIDDEN`` (the driver's home, caches
and temporary folder, separated by os.pathsep) that the process opens, to ``SWEEP_TEST_FORBIDDEN_LOG``.

Python's own opens are seen by an audit hook as they happen; files that native code opens or maps
(Arrow memory-maps a datasets cache file) are seen in /proc/self/fd and /proc/self/maps, read every
0.2 s while the process lives.
"""

import os
import sys
import threading

_FORBIDDEN = tuple(
    os.path.realpath(p) + os.sep for p in os.environ.get("SWEEP_TEST_FORBIDDEN", "").split(os.pathsep) if p
)
_LOG = os.environ.get("SWEEP_TEST_FORBIDDEN_LOG")
_seen = set()
_inside = threading.local()


def _record(path, how):
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return
    if not real.startswith(_FORBIDDEN) or (real, how) in _seen:
        return
    _seen.add((real, how))
    _inside.active = True
    try:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {how} {real} {' '.join(sys.argv)[:200]}\n")
    finally:
        _inside.active = False


def _hook(event, args):
    if event == "open" and not getattr(_inside, "active", False) and isinstance(args[0], (str, bytes)):
        _record(args[0], "open")


def _scan():
    while True:
        try:
            for fd in os.listdir("/proc/self/fd"):
                try:
                    _record(os.readlink(f"/proc/self/fd/{fd}"), "fd")
                except OSError:
                    continue
            with open("/proc/self/maps", encoding="utf-8") as maps:
                for line in maps:
                    fields = line.split(maxsplit=5)
                    if len(fields) == 6 and fields[5].startswith("/"):
                        _record(fields[5].strip().removesuffix(" (deleted)"), "map")
        except OSError:
            pass
        threading.Event().wait(0.2)


if _FORBIDDEN and _LOG:
    with open(_LOG + ".watched", "a", encoding="utf-8") as watched:  # which processes were watched at all
        watched.write(f"{os.getpid()} {' '.join(sys.argv)[:200]}\n")
    sys.addaudithook(_hook)
    threading.Thread(target=_scan, name="share-nothing-watch", daemon=True).start()
