"""Result files appear whole or not at all: write a temporary file beside the target, then rename.

The temporary file and folder are created with the modes any new file and folder get (0o666 and 0o777,
less the user's umask, by the kernel), not with ``tempfile``'s private 0o600 and 0o700: the rename keeps
the mode, and a report that its group cannot read, under ``umask 002``, is not one a team can share.
The umask is never read or changed here: ``os.umask`` sets it for every thread of the process.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
ATTEMPTS = 100  # names are random (8 hex digits): a clash is rare, a hundred in a row is a broken folder


def write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = _beside(path, ".tmp", _new_file)
    except OSError as error:
        _name_target(error, path)
        raise
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        _name_target(error, path)
        raise


def replace_folder(path: Path | str, files: dict[str, bytes]) -> None:
    """Write a folder of files under a temporary name, then swap it in for ``path``."""
    path = Path(path)
    try:
        _, staging = _beside(path, "", _new_folder)
    except OSError as error:
        _name_target(error, path)
        raise
    try:
        for relative, content in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        _name_target(error, path)
        raise


def write_text(path: Path | str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def _name_target(error: BaseException, path: Path) -> None:
    """Make an OSError name the file being written: a full disk fails a ``write`` or ``fsync``, which name
    no file, or a temporary name the user never sees."""
    if isinstance(error, OSError) and (error.filename is None or Path(error.filename).name.startswith(".")):
        error.filename = str(path)


def _new_file(path: Path) -> int:
    # O_EXCL: never an existing file, nor a link planted under the name.
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)


def _new_folder(path: Path) -> None:
    os.mkdir(path, 0o777)


def _beside(path: Path, suffix: str, create: Callable[[Path], T]) -> tuple[T, Path]:
    """A new hidden file or folder beside ``path`` (``.report.json.<random><suffix>``), made by ``create``."""
    for _ in range(ATTEMPTS):
        candidate = path.parent / f".{path.name}.{secrets.token_hex(4)}{suffix}"
        try:
            return create(candidate), candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name} in {ATTEMPTS} attempts")
