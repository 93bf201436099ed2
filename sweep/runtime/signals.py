"""Ctrl-C (SIGINT), SIGTERM and SIGHUP, as a terminal, a cluster or a closed SSH session sends them: stop,
leave a resumable folder, say so in one line and exit with 128 + the signal's number (130, 143, 129).

During the sweep the first signal asks Ray Tune for its own graceful stop: the experiment state is
saved and the trials are stopped, so `sweep resume` reruns only the interrupted ones. Anywhere else
(loading data, retraining, writing the report) it unwinds at once; files are written atomically and
each finished retrain run is already in the folder. A second signal exits at once.

Only the command line installs these handlers; the Python API leaves signals to its caller.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterator

from trainables.internals import TUNE_LOGGER, TUNE_STOP_LINES, tune_sigint_handler_disabled, tune_stop_handler

# SIGHUP: the terminal or SSH session the sweep ran in was closed. Its default action kills the driver
# at once, with no `stopped` record and a local Ray's agents left running; it is a request to stop
# like SIGTERM, so it gets the same graceful stop.
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_state: dict = {"installed": False, "received": None, "sweeping": False, "polled": False}


class Interrupted(BaseException):
    """A stop signal arrived. A BaseException, as KeyboardInterrupt is, so no ``except Exception`` in a
    library swallows it."""

    def __init__(self, signum: int, location: str | None = None):
        super().__init__(signum)
        self.signum = signum
        self.location = location

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        if self.location is None:
            return f"stopped by {name} before any experiment folder was written"
        return f"stopped by {name}; {self.location} is kept as it was: `sweep resume {self.location}` finishes it"


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Handle SIGINT, SIGTERM and SIGHUP inside (the command line's whole run); the handlers before come back after."""
    # Tune's own SIGINT handler would take Ctrl-C from ours; its stop handler is what ours calls.
    saved = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    _state.update(installed=True, received=None)
    for signum in _SIGNALS:
        signal.signal(signum, _handle)
    # What Tune logs when it stops on a signal, which our one line replaces.
    logging.getLogger(TUNE_LOGGER).addFilter(_without_tune_stop_lines)
    try:
        with tune_sigint_handler_disabled():
            yield
    finally:
        logging.getLogger(TUNE_LOGGER).removeFilter(_without_tune_stop_lines)
        _state.update(installed=False, received=None, sweeping=False, polled=False)
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def _without_tune_stop_lines(record: logging.LogRecord) -> bool:
    return not (_state["received"] is not None and str(record.msg).startswith(TUNE_STOP_LINES))


def reinstall() -> None:
    """After ``ray.init``, which sets a SIGTERM handler of its own: ours again, inside ``handled``."""
    if _state["installed"]:
        for signum in _SIGNALS:
            signal.signal(signum, _handle)


def _handle(signum: int, frame) -> None:
    if _state["received"] is not None:  # the second signal: the user does not want to wait for a clean stop
        name = signal.Signals(signum).name
        os.write(2, f"sweep: stopped at once by a second {name}; `sweep resume DIR` finishes the folder\n".encode())
        from sweep.runtime.local_ray import stop_local_ray

        stop_local_ray()
        os._exit(128 + signum)
    _state["received"] = signum
    if _state["polled"]:
        return  # the code inside `polled` raises it at its next check
    if _state["sweeping"]:
        # Installed by tune.run for the length of the sweep loop: ends it after saving the experiment.
        tune_stop = tune_stop_handler()
        if tune_stop is not None:
            tune_stop(signum, frame)
            return
    raise Interrupted(signum)


@contextlib.contextmanager
def sweeping() -> Iterator[None]:
    """Around ``Tuner.fit()``: a signal stops the sweep through Tune; once it has, Interrupted."""
    _state["sweeping"] = True
    try:
        yield
    finally:
        _state["sweeping"] = False
    if _state["received"] is not None:
        raise Interrupted(_state["received"])


@contextlib.contextmanager
def polled() -> Iterator[None]:
    """Around a loop of short waits on Ray (``ray.wait`` with a timeout): a signal is raised at the loop's
    next ``check()`` rather than from inside Ray's own blocking call, after which its driver cannot
    shut down cleanly."""
    _state["polled"] = True
    try:
        yield
    finally:
        _state["polled"] = False


def check() -> None:
    """Raise Interrupted if a stop signal has arrived."""
    if _state["received"] is not None:
        raise Interrupted(_state["received"])


@contextlib.contextmanager
def resumable(location: str) -> Iterator[None]:
    """Name the experiment folder in an Interrupted raised inside."""
    try:
        yield
    except Interrupted as stop:
        stop.location = stop.location or location
        raise
