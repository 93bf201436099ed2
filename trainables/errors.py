"""The two errors a user is shown as one line: input they can fix (exit 2), and a run that failed (exit 1)."""

from __future__ import annotations


class InputError(ValueError):
    """Input that cannot work. The message is one line naming the key or file and what is allowed.

    The command line turns it into exit status 2 before any trial starts.
    """

    MAX_LENGTH = 400

    def __init__(self, message: str):
        # One line whatever a library put in the reason: newlines and runs of spaces collapse.
        line = " ".join(str(message).split())
        super().__init__(line if len(line) <= self.MAX_LENGTH else line[: self.MAX_LENGTH - 1] + "…")


class RunFailed(RuntimeError):
    """A run that failed on its own account, not the input's: a loss that turned NaN, a sweep in which no
    trial scored, a retrain that raised. The command line prints its one-line message and exits 1."""


def reason(error: BaseException) -> str:
    """A library's error as the reason in a one-line message: its first line, with the next where the first
    only introduces it ("Validation error for field 'x':")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]
