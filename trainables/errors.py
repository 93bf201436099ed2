"""The one error type for input a user can fix: bad config, bad data, bad paths."""

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
