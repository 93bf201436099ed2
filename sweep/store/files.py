"""An experiment folder on a local disk or behind a URI (``s3://``, ``gs://``, any ``pyarrow.fs`` scheme).

Multi-node Ray clusters need a results folder every node can reach; Ray Tune writes its part through
``pyarrow.fs`` and so does this module. Local files are written atomically (temporary file, then
rename); an object store shows an uploaded object whole or not at all.
"""

from __future__ import annotations

import io
import json
import posixpath
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.fs as pafs

from sweep.store import atomic
from trainables.errors import InputError


def is_uri(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


class Folder:
    """A folder named by a local path or a URI; file names inside are relative, with ``/``."""

    def __init__(self, location: str | Path):
        location = str(location)
        self.location = location
        self.local = None if is_uri(location) else Path(location.removeprefix("file://")).resolve()
        if self.local is not None:
            self.fs, self.root = pafs.LocalFileSystem(), str(self.local)
        else:
            try:
                self.fs, self.root = pafs.FileSystem.from_uri(location)
            except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
                raise InputError(f"{location}: cannot open this location ({error})") from None
        self.name = posixpath.basename(self.root.rstrip("/"))

    @classmethod
    def of(cls, location: Folder | str | Path) -> Folder:
        """``location`` as a Folder (itself if it is one already)."""
        return location if isinstance(location, Folder) else cls(location)

    def __str__(self) -> str:
        return self.location

    def child(self, name: str) -> Folder:
        """The folder ``name`` inside this one."""
        if self.local is not None:
            return Folder(self.local / name)
        return Folder(self.location.rstrip("/") + "/" + name)

    def storage_path(self) -> str:
        """What Ray Tune's ``RunConfig(storage_path=...)`` takes for this folder's parent."""
        if self.local is not None:
            return str(self.local.parent)
        return self.location.rstrip("/").rsplit("/", 1)[0]

    def _path(self, name: str) -> str:
        # Names come from the folder's own files too (Ray's state names each trial's folder): none may
        # lead out of it, so that no file elsewhere is read into a result or written over.
        if name.startswith("/") or ".." in name.split("/"):
            raise InputError(f"{self}/{name}: outside the folder; a damaged file of the folder names it")
        return posixpath.join(self.root, name) if name else self.root

    def kind(self, name: str = "") -> str:
        """'file', 'folder' or 'missing'."""
        info = self.fs.get_file_info(self._path(name))
        return {pafs.FileType.File: "file", pafs.FileType.Directory: "folder"}.get(info.type, "missing")

    def exists(self, name: str = "") -> bool:
        return self.kind(name) != "missing"

    def is_file(self, name: str) -> bool:
        return self.kind(name) == "file"

    def modified(self, name: str) -> float | None:
        """When ``name`` last changed, in seconds since the epoch; None when it is missing (or the store
        does not say)."""
        info = self.fs.get_file_info(self._path(name))
        if info.type == pafs.FileType.NotFound or info.mtime_ns is None:
            return None
        return info.mtime_ns / 1e9

    def names(self, name: str = "") -> list[str]:
        """Entries directly inside ``name``, sorted."""
        selector = pafs.FileSelector(self._path(name), allow_not_found=True)
        return sorted(posixpath.basename(info.path) for info in self.fs.get_file_info(selector))

    def make(self) -> None:
        self.fs.create_dir(self.root, recursive=True)

    def read_bytes(self, name: str) -> bytes:
        path = self._path(name)
        if self.local is not None and not Path(path).resolve().is_relative_to(self.local):
            raise InputError(f"{self}/{name}: a link out of the folder; replace it with the file itself")
        with self.fs.open_input_stream(path) as handle:
            return handle.read()

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode("utf-8")

    def read_json(self, name: str) -> Any:
        data = self.read_bytes(name)
        try:
            return json.loads(data)
        except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
            raise InputError(f"{self}/{name}: damaged, not JSON ({error.__class__.__name__}: {error})") from None

    def read_parquet(self, name: str) -> pd.DataFrame:
        data = self.read_bytes(name)
        try:
            return pd.read_parquet(io.BytesIO(data))
        except (ValueError, OSError) as error:  # pyarrow's ArrowInvalid is a ValueError
            raise InputError(f"{self}/{name}: damaged, not Parquet ({str(error).splitlines()[0]})") from None

    def remove(self, name: str) -> None:
        """Delete the file ``name``; nothing where it is missing."""
        if self.is_file(name):
            self.fs.delete_file(self._path(name))

    def write_bytes(self, name: str, data: bytes) -> None:
        """Whole or not at all: atomic rename on a disk, a single upload on an object store."""
        if self.local is not None:
            atomic.write_bytes(self.local / name, data)
            return
        self.fs.create_dir(posixpath.dirname(self._path(name)), recursive=True)
        with self.fs.open_output_stream(self._path(name)) as handle:
            handle.write(data)

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode("utf-8"))

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(data, indent=2, allow_nan=False) + "\n")

    def write_parquet(self, name: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        self.write_bytes(name, buffer.getvalue())

    def replace_folder(self, name: str, files: dict[str, bytes]) -> None:
        """Replace the folder ``name`` with ``files`` (relative path -> content)."""
        if self.local is not None:
            atomic.replace_folder(self.local / name, files)
            return
        if self.exists(name):
            self.fs.delete_dir(self._path(name))
        for relative, content in files.items():
            self.write_bytes(f"{name}/{relative}", content)
