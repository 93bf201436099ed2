"""Training triplets and STS pairs: loaded once in the driver, validated, handed to trials compactly."""

from __future__ import annotations

import contextlib
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from trainables.errors import InputError
from trainables.file_checks import check_file, check_json_keys, check_source, diagnose_json_lines, local_format
from trainables.schema import MAX_INT64, MAX_SEED, Strict

if TYPE_CHECKING:
    from datasets import Dataset

TRIPLET_COLUMNS = ("anchor", "positive", "negative")
STS_COLUMNS = ("sentence1", "sentence2", "score")


class DataSource(Strict):
    """One split: a local file (json, jsonl, csv, parquet; ``.gz`` allowed) or a hub dataset."""

    source: str  # local file path, or hub dataset id; a local path of another format is refused
    subset: str | None = None  # hub config name, e.g. "triplet"
    split: str = "train"  # hub split; ignored for local files
    limit: int | None = Field(None, ge=1, le=MAX_INT64)  # keep only the first N rows
    # Seed: shuffle the rows before the limit, so a limit is a random sample (numpy's seed range).
    shuffle: int | None = Field(None, ge=0, le=MAX_SEED)

    @field_validator("source")
    @classmethod
    def _readable_here(cls, source: str) -> str:
        # A .tsv or .txt path used to be taken for a hub dataset id and "not found on the hub".
        return check_source(source)

    @property
    def is_local(self) -> bool:
        return local_format(self.source) is not None


class DataConfig(Strict):
    """Hub datasets of the reference recipe by default; any split may be a local file instead."""

    train: DataSource = DataSource(source="sentence-transformers/all-nli", subset="triplet", split="train")
    sts_dev: DataSource = DataSource(source="sentence-transformers/stsb", split="validation")
    sts_test: DataSource = DataSource(source="sentence-transformers/stsb", split="test")

    def resolved(self) -> DataConfig:
        """A copy with absolute local paths, so a saved config works from any working directory. Links are
        kept, not followed: a link ``train.jsonl`` to a store's ``blob-3f2a`` would lose the suffix that
        says it is a local JSON file."""
        update = {
            key: source.model_copy(update={"source": os.path.abspath(Path(source.source).expanduser())})
            for key, source in (("train", self.train), ("sts_dev", self.sts_dev), ("sts_test", self.sts_test))
            if source.is_local and Path(source.source).expanduser().exists()
        }
        return self.model_copy(update=update)


@dataclass(frozen=True)
class StsPairs:
    """Sentence pairs with gold similarity in [0, 1]."""

    sentences1: list[str]
    sentences2: list[str]
    scores: list[float]


@dataclass(frozen=True)
class TrialData:
    """Everything a trial reads, by value: it travels to nodes that share no disk with the driver.

    The triplets are an Arrow table held in memory (``in_memory``): it pickles as its buffers, compactly.
    A Dataset read from a file pickles as the path of its cache file instead, which only the driver has.
    """

    train: Dataset
    sts_dev: StsPairs

    def __post_init__(self) -> None:
        if self.train.cache_files:
            raise ValueError(f"trial data must hold its rows, not files: {self.train.cache_files[0]['filename']}")


def in_memory(dataset: Dataset) -> Dataset:
    """The same rows as an Arrow table in memory, so the Dataset pickles by value.

    ``load_dataset`` memory-maps a cache file under the driver's datasets cache; shuffling and limiting
    add an index into it. The rows are taken out as one table (the index applied), which costs one copy
    of the selected rows, in Arrow's compact form.
    """
    from datasets import Dataset

    return Dataset(dataset.with_format("arrow")[:])


def sample(dataset: Dataset, size: int, seed: int) -> Dataset:
    """``size`` rows drawn at random with ``seed`` (the same rows for the same seed), held in memory."""
    return in_memory(dataset.shuffle(seed=seed).select(range(size)))


@contextlib.contextmanager
def _readers_silent():
    """The readers log each failure before raising it; the InputError raised instead says it once."""
    logger = logging.getLogger("datasets")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _reason(error: BaseException) -> str:
    """The innermost cause: datasets wraps a reader's error in a generic 'error while generating'."""
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _load(source: DataSource, key: str) -> Dataset:
    from datasets import load_dataset  # imported on use: config validation does not need it

    if source.is_local:
        path = check_file(source.source, key)  # a regular, non-empty, UTF-8 file, each column named once
        check_json_keys(source.source, key)
        try:
            with _readers_silent():
                dataset = load_dataset(local_format(source.source), data_files=str(path), split="train")
        except Exception as error:  # the json/csv/parquet readers raise many types for a broken file
            if local_format(source.source) == "json":
                diagnose_json_lines(source.source, key)  # names the line where it can
            raise InputError(f"{key}.source: cannot read {source.source}: {_reason(error)}") from None
    else:
        try:
            with _readers_silent():
                dataset = load_dataset(source.source, source.subset, split=source.split)
        except Exception as error:  # hub errors: offline, unknown id, unknown split
            raise InputError(f"{key}.source: cannot load hub dataset {source.source}: {_reason(error)}") from None
    if source.shuffle is not None:
        dataset = dataset.shuffle(seed=source.shuffle).flatten_indices()
    if source.limit is not None and source.limit < len(dataset):
        dataset = dataset.select(range(source.limit))
    return dataset


def _check_columns(dataset: Dataset, columns: tuple[str, ...], key: str, source: str) -> None:
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise InputError(
            f"{key}: {source} lacks column(s) {', '.join(missing)}; "
            f"needs {', '.join(columns)}, has {', '.join(dataset.column_names) or 'none'}"
        )
    if len(dataset) == 0:
        raise InputError(f"{key}: {source} has no rows")


def _check_text(values: list, column: str, key: str, source: str) -> None:
    for row, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{key}: {source} row {row} column {column} is {value!r}; expected non-empty text")


def load_triplets(source: DataSource, key: str = "data.train") -> Dataset:
    """Load (anchor, positive, negative) triplets, only those columns, checked for empty text, held in memory."""
    dataset = _load(source, key)
    _check_columns(dataset, TRIPLET_COLUMNS, key, source.source)
    dataset = in_memory(dataset.select_columns(list(TRIPLET_COLUMNS)))
    for column in TRIPLET_COLUMNS:
        _check_text(dataset[column], column, key, source.source)
    return dataset


def load_sts(source: DataSource, key: str) -> StsPairs:
    """Load STS pairs; scores must be finite and in [0, 1] (the 0-5 scale divided by 5)."""
    dataset = _load(source, key)
    _check_columns(dataset, STS_COLUMNS, key, source.source)
    sentences1, sentences2, scores = (dataset[c] for c in STS_COLUMNS)
    _check_text(sentences1, "sentence1", key, source.source)
    _check_text(sentences2, "sentence2", key, source.source)
    for row, score in enumerate(scores):
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise InputError(f"{key}: {source.source} row {row} score is {score!r}; expected a number in [0, 1]")
        if not 0.0 <= score <= 1.0:
            raise InputError(
                f"{key}: {source.source} row {row} score {score} is outside [0, 1]; divide 0-5 scores by 5"
            )
    if len(set(scores)) < 2:
        raise InputError(f"{key}: {source.source} scores are all equal; a correlation needs variation")
    return StsPairs(list(sentences1), list(sentences2), [float(s) for s in scores])
