"""Which sources are local data files, and what such a file must be before a reader opens it: a regular
file (a FIFO would block the reader, a folder has no rows), UTF-8 text, each column named once. Every
refusal is one InputError line naming the key and the file."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import stat
import zlib
from pathlib import Path

from trainables.errors import InputError

LOCAL_FORMATS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
COMPRESSION = ".gz"  # what the readers decompress on their own
FORMATS_ALLOWED = ".json, .jsonl, .csv or .parquet (each may end in .gz)"
# Suffixes of files, not of hub dataset ids (which may hold a dot too, e.g. a version): a source ending in
# one of these is a local file in a format the readers here do not take, not an id to ask the hub for.
OTHER_FILE_SUFFIXES = frozenset(
    {
        *(".tsv", ".txt", ".text", ".xml", ".html", ".md", ".yaml", ".yml", ".ndjson", ".xls", ".xlsx", ".ods"),
        *(".arrow", ".feather", ".orc", ".avro", ".pkl", ".pickle", ".npy", ".npz", ".h5", ".hdf5", ".tfrecord"),
        *(".db", ".sqlite", ".zip", ".tar", ".tgz", ".bz2", ".xz", ".zst", ".lz4", ".7z", ".gz"),
    }
)
_CHUNK = 1 << 20


def local_format(source: str) -> str | None:
    """The reader of a local file's format (json, csv, parquet), from its suffix; None for anything else."""
    suffixes = [s.lower() for s in Path(source).suffixes]
    if suffixes and suffixes[-1] == COMPRESSION:
        suffixes = suffixes[:-1]
    return LOCAL_FORMATS.get(suffixes[-1]) if suffixes else None


def looks_local(source: str) -> bool:
    """Whether ``source`` names a local path rather than a hub dataset id (``org/name``): it exists, it
    starts like a path or has more than one separator, or it ends in a file suffix."""
    if source.startswith((".", "/", "~")) or "\\" in source or source.count("/") > 1:
        return True
    if any(s.lower() in OTHER_FILE_SUFFIXES for s in Path(source).suffixes[-2:]):
        return True
    return Path(source).expanduser().exists()


def check_source(source: str) -> str:
    """``source`` itself, where it is a file of a format read here or a hub id; raises ValueError (for the
    config's one line, which names the key) for a local path that no reader here takes."""
    if local_format(source) is not None or not looks_local(source):
        return source
    if Path(source).expanduser().is_dir():
        raise ValueError(f"{source} is a folder; give one data file: {FORMATS_ALLOWED}, or a hub dataset id")
    raise ValueError(f"{source} is a local file of a format not read here; use {FORMATS_ALLOWED}, or a hub dataset id")


def check_file(source: str, key: str) -> Path:
    """The local file ``source`` as a path, once it is known to be a regular, readable, non-empty file; for
    json and csv, UTF-8 text; for csv and parquet, with no column named twice. Raises InputError."""
    path = Path(source).expanduser()
    if not path.exists():
        raise InputError(f"{key}.source: data file {source} does not exist")
    kind = _kind(path)
    if kind is not None:  # never opened: a FIFO would block until someone writes to it
        raise InputError(f"{key}.source: {source} is {kind}, not a regular file; give a data file: {FORMATS_ALLOWED}")
    fmt = local_format(source)
    try:
        if fmt == "parquet":
            _check_parquet(path, source, key)
        else:
            _check_text(path, source, key)
            if fmt == "csv":
                _check_header(path, source, key)
    except (OSError, EOFError, zlib.error) as error:  # unreadable, or a .gz that is not gzip (or is cut short)
        detail = error.strerror if isinstance(error, OSError) and error.strerror else str(error) or type(error).__name__
        raise InputError(f"{key}.source: cannot read {source}: {type(error).__name__}: {detail}") from None
    return path


class _KeyTwice(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """json's object hook: refuse an object that gives a key twice (json and the readers keep the last)."""
    seen = {}
    for name, value in pairs:
        if name in seen:
            raise _KeyTwice(name)
        seen[name] = value
    return seen


def check_json_keys(source: str, key: str) -> None:
    """For a .json file (one document, which the reader parses with the last of two equal keys winning,
    silently): refuse an object that gives a key twice."""
    if not Path(source).name.lower().removesuffix(COMPRESSION).endswith(".json"):
        return
    with _open(Path(source).expanduser()) as handle:
        try:
            json.load(io.TextIOWrapper(handle, encoding="utf-8"), object_pairs_hook=_unique_keys)
        except _KeyTwice as twice:
            raise InputError(f"{key}.source: {source} has an object with the key {twice.key!r} twice") from None
        except ValueError:  # not JSON at all: the reader says what it makes of it
            return


def diagnose_json_lines(source: str, key: str) -> None:
    """Where the reader failed on a JSON Lines file: the first line that is not one JSON object, or that
    gives a key twice (the reader's own error, e.g. "Trailing data at position 50", names neither)."""
    with _open(Path(source).expanduser()) as handle:
        for number, raw in enumerate(io.TextIOWrapper(handle, encoding="utf-8"), start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.strip(), object_pairs_hook=_unique_keys)
            except _KeyTwice as twice:
                raise InputError(f"{key}.source: {source} line {number} has the key {twice.key!r} twice") from None
            except json.JSONDecodeError as error:  # its own line and column count within this one line
                raise InputError(
                    f"{key}.source: {source} line {number} is not JSON: {error.msg} at column {error.colno}"
                ) from None
            if not isinstance(row, dict):
                raise InputError(f"{key}.source: {source} line {number} is not a JSON object (one row per line)")


def _kind(path: Path) -> str | None:
    """What ``path`` is where it is not a regular file (after links), in words; None for a regular file."""
    mode = path.stat().st_mode
    kinds = (
        (stat.S_ISREG, None),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() == COMPRESSION else open(path, "rb")


def _check_text(path: Path, source: str, key: str) -> None:
    """Refuse an empty file, or bytes that are not UTF-8 (the readers decode lazily: a bad byte in an STS
    file surfaced as a UnicodeDecodeError when its column was read), naming the line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, content = 0, False
    with _open(path) as handle:
        while chunk := handle.read(_CHUNK):
            content = content or bool(chunk.strip())
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                # error.object is the decoder's held-back bytes (part of one character, no newline) + chunk.
                line = lines + error.object.count(b"\n", 0, error.start) + 1
                byte = error.object[error.start]
                raise InputError(
                    f"{key}.source: {source} is not UTF-8 text: line {line} has the byte 0x{byte:02x}; save it as UTF-8"
                ) from None
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InputError(
                f"{key}.source: {source} is not UTF-8 text: it ends inside a character (line {lines + 1}); "
                "save it as UTF-8"
            ) from None
    if not content:  # the readers fail on an empty file with errors that do not say so
        raise InputError(f"{key}: {source} has no rows")


def _check_header(path: Path, source: str, key: str) -> None:
    """The csv reader renames a second ``score`` to ``score.1`` and the first one is used: refuse it."""
    with _open(path) as handle:
        header = next(csv.reader(io.TextIOWrapper(handle, encoding="utf-8", newline="")), [])
    _check_unique(header, source, key)


def _check_parquet(path: Path, source: str, key: str) -> None:
    with _open(path) as handle:
        if not handle.read(4096).strip():
            raise InputError(f"{key}: {source} has no rows")
    if path.suffix.lower() == COMPRESSION:
        return
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception:  # a broken file: the reader says what is wrong with it
        return
    _check_unique(names, source, key)


def _check_unique(columns: list[str], source: str, key: str) -> None:
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise InputError(f"{key}.source: {source} has the column {column!r} twice; name each column once")
        seen.add(column)
