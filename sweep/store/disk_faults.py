"""A folder that cannot be written: a full disk (ENOSPC, EDQUOT), a read-only file system or folder (EROFS,
EACCES, EPERM), a failing disk (EIO).

Before work starts, ``check_writable`` finds a folder that cannot be written (exit status 2, bad input:
nothing was changed). During the work, ``written`` turns such an OSError into ``CannotWrite``: one line
naming the file and the command that goes on once it is fixed, exit status 74 (``EX_IOERR`` of
sysexits.h: an input/output error, apart from 1, a run that failed on its own account, and from 2).
Every file is written whole or not at all (``sweep.store.atomic``) and each finished retrain run is kept, so
nothing written before the fault is lost.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from trainables.errors import InputError

EXIT_IO_ERROR = 74
# What the user does about each fault, before running the command again.
_FIXES = {
    errno.ENOSPC: "free some space on its file system",
    errno.EDQUOT: "free some space or raise the disk quota",
    errno.EFBIG: "free some space or raise the file size limit",
    errno.EROFS: "make its file system writable",
    errno.EACCES: "make it writable for this user",
    errno.EPERM: "make it writable for this user",
    errno.EIO: "check the disk",
}
_ANY = "give a folder this user can write"  # an error not above: only the folder check meets one


class CannotWrite(Exception):
    """A file of an experiment folder could not be written; the folder is kept as it was."""

    def __init__(self, error: OSError, location: str, command: str | None):
        super().__init__(error)
        self.error, self.location, self.command = error, location, command

    def __str__(self) -> str:
        error, errno = self.error, self.error.errno or 0
        what = error.strerror or os.strerror(errno)
        path = error.filename or self.location
        if self.command is None:  # nothing in the folder to go on from yet
            return f"cannot write {path}: {what}; {_FIXES.get(errno, _ANY)}, then run the command again"
        return (
            f"cannot write {path}: {what}; {self.location} is kept as it was: {_FIXES.get(errno, _ANY)}, "
            f"then `sweep {self.command} {self.location}` goes on from it"
        )


@contextlib.contextmanager
def written(location: str, command: str | None) -> Iterator[None]:
    """Around the writes of one experiment folder: a fault of the disk becomes ``CannotWrite`` naming
    ``sweep COMMAND LOCATION`` as the way on (None: the same command again); other errors pass unchanged."""
    try:
        yield
    except CannotWrite:
        raise  # an inner command (a resume that only re-reports) named its own way on
    except OSError as error:
        if error.errno not in _FIXES:
            raise
        raise CannotWrite(error, location, command) from error


def check_writable(folder: Path | str, then: str, key: str | None = None) -> None:
    """Refuse ``folder`` where a file cannot be created in it, or in the nearest folder above it that
    exists (where it would be made): read-only, under a file. ``then`` is what to run once it is fixed;
    ``key`` names the setting in the line. A probe file is made and removed at once: a mode bit says
    nothing for root, nor on a read-only mount."""
    folder = Path(folder)
    said = f"{key}: {folder}" if key else str(folder)
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        where = "is a file" if existing == folder else f"is under {existing}, a file"
        raise InputError(f"{said} {where}; give a folder")
    probe = existing / f".sweep-write-check-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as error:
        fix = _FIXES.get(error.errno or 0, _ANY)
        inside = "" if existing == folder else f" (in {existing}, where it would be made)"
        raise InputError(f"{said}: cannot write there{inside}: {error.strerror or error}; {fix}, then {then}") from None


# The longest path the sweep writes inside an experiment folder, with room to spare: a trial's folder and
# file (``trial_<id>/progress.csv``), a retrained model's files under a temporary name.
DEEPEST_INSIDE = 160
# Less free space than the smoke recipe's folder takes (about 2 MiB with its model) cannot hold any
# sweep; refused before Ray starts. Whether a larger sweep fits is not known in advance: a disk that
# fills up later is one line and exit status 74 (``written``).
MIN_FREE_BYTES = 4 * 2**20


def check_results_dir(results_dir: str, name: str) -> None:
    """A new experiment folder ``results_dir/<name>-<timestamp>`` can be made and filled: the folder
    writable, every name short enough for its file system, some room free (else the sweep would fail
    after Ray started, at its first write)."""
    folder = Path(results_dir).absolute() / f"{name}-20260101-000000-99"
    existing = _nearest_existing(Path(results_dir).absolute())
    name_max = _limit(existing, "PC_NAME_MAX", 255)
    for part in folder.parts[1:]:
        if len(os.fsencode(part)) > name_max:
            what = f"name: the experiment folder's name ({part})" if part == folder.name else f"results_dir: {part}"
            raise InputError(
                f"{what} is {len(os.fsencode(part))} bytes, more than the {name_max} its file system allows; "
                "give a shorter one"
            )
    path_max = _limit(existing, "PC_PATH_MAX", 4096)
    if len(os.fsencode(str(folder))) + DEEPEST_INSIDE > path_max:
        raise InputError(
            f"results_dir: {results_dir} is too deep: the files of a sweep there would pass the {path_max} bytes "
            f"a path may have; give a shorter path (or a shorter name)"
        )
    check_writable(results_dir, "run the command again", key="results_dir")
    try:
        stats = os.statvfs(existing)
    except OSError:
        return
    free = stats.f_bavail * stats.f_frsize
    if free < MIN_FREE_BYTES:
        raise InputError(
            f"results_dir: {results_dir}: {free // 1024} KiB free on its file system, less than the smallest "
            f"sweep writes ({MIN_FREE_BYTES // 2**20} MiB); free some space, then run the command again"
        )


def _nearest_existing(folder: Path) -> Path:
    while not _exists(folder) and folder.parent != folder:
        folder = folder.parent
    return folder


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system: nothing by that name exists
        return False


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default
