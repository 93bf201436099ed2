"""Standard output that may go away while a command runs: a pipe whose reader ended (``sweep run ... |
head -2``) or a terminal that hung up. What the command prints there is for people; the experiment
folder is the result, so losing stdout ends the printing, never the work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

log = logging.getLogger("sweep")
_stdout = {"closed": False}  # set once a write to stdout failed: nothing more is printed there


def say(text: str) -> None:
    """``text`` and a newline on stdout, at once, unless stdout is gone.

    The lines are for people; the experiment folder is the result. So a stdout whose reader went away
    (``sweep run ... | head -2``: EPIPE) or whose terminal hung up (EIO) ends the printing, never the
    command: one warning on stderr says so, and the sweep, retrain and report go on.
    """
    if _stdout["closed"]:
        return
    try:
        print(text, file=sys.stdout, flush=True)
    except OSError as error:
        _stdout["closed"] = True
        _discard_stdout()
        log.warning("stdout is closed (%s): no more progress lines; the command goes on", error.strerror or error)


def tell(text: str) -> None:
    """``text`` and a newline on stderr: a command's last line. A terminal that hung up (SIGHUP, a closed
    SSH session) takes it with it; the exit status and the folder still say what happened."""
    with contextlib.suppress(OSError):
        print(text, file=sys.stderr, flush=True)


def _discard_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so that what is still buffered, the interpreter's last flush
    and Ray's forwarding of worker output meet no closed pipe (each would print a traceback)."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a stdout that is no file (a test's capture): nothing to do
        pass
