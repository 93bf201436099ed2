"""Local data files in every supported format load; broken ones are refused with the file named."""

from __future__ import annotations

import gzip
import json
import pickle
import shutil

import pandas as pd
import pytest

from trainables.data import DataSource, TrialData, load_sts, load_triplets
from trainables.errors import InputError

from .conftest import SMOKE_DATA

TRIPLETS = [{"anchor": f"a{i}", "positive": f"p{i}", "negative": f"n{i}"} for i in range(5)]
PAIRS = [{"sentence1": f"s{i}", "sentence2": f"t{i}", "score": i / 4} for i in range(5)]


def write_jsonl(path, rows, compress=False):
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if compress:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return str(path)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".json", ".csv", ".csv.gz", ".parquet"])
def test_every_local_format_loads(tmp_path, suffix):
    path = tmp_path / f"pairs{suffix}"
    frame = pd.DataFrame(PAIRS)
    if suffix.startswith((".jsonl", ".json")):
        write_jsonl(path, PAIRS, compress=suffix.endswith(".gz"))
    elif suffix.startswith(".csv"):
        frame.to_csv(path, index=False, compression="gzip" if suffix.endswith(".gz") else None)
    else:
        frame.to_parquet(path)
    pairs = load_sts(DataSource(source=str(path)), "data.sts_dev")
    assert pairs.sentences1 == [row["sentence1"] for row in PAIRS]
    assert pairs.scores == [row["score"] for row in PAIRS]


def test_limit_keeps_the_first_rows_and_shuffle_samples(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", TRIPLETS)
    assert load_triplets(DataSource(source=path, limit=2))["anchor"] == ["a0", "a1"]
    sampled = load_triplets(DataSource(source=path, limit=3, shuffle=1))["anchor"]
    assert len(sampled) == 3 and sampled == load_triplets(DataSource(source=path, limit=3, shuffle=1))["anchor"]


@pytest.mark.parametrize("sample", [{}, {"limit": 3}, {"limit": 3, "shuffle": 1}])
def test_training_rows_travel_by_value_not_as_a_path_into_the_datasets_cache(tmp_path, monkeypatch, sample):
    """A node that does not share the driver's disk unpickles the rows themselves; with its cache gone,
    a Dataset that pickled as its cache file's path would fail to open it there."""
    import datasets

    cache = tmp_path / "driver-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(cache))
    rows = load_triplets(DataSource(source=write_jsonl(tmp_path / "t.jsonl", TRIPLETS), **sample))
    assert any(cache.rglob("*.arrow"))  # the reader did go through the cache
    dev = load_sts(DataSource(source=write_jsonl(tmp_path / "s.jsonl", PAIRS)), "data.sts_dev")
    payload = pickle.dumps(TrialData(rows, dev))
    shutil.rmtree(cache)
    assert str(cache).encode() not in payload
    received = pickle.loads(payload)
    assert received.train["anchor"] == rows["anchor"] and received.train.cache_files == []


def test_trial_data_refuses_rows_that_are_only_a_file(tmp_path):
    from datasets import load_dataset

    mapped = load_dataset("json", data_files=write_jsonl(tmp_path / "t.jsonl", TRIPLETS), split="train")
    with pytest.raises(ValueError, match="must hold its rows"):
        TrialData(mapped, load_sts(DataSource(source=write_jsonl(tmp_path / "s.jsonl", PAIRS)), "dev"))


def test_extra_columns_are_dropped(tmp_path):
    rows = [{**row, "label": 1} for row in TRIPLETS]
    assert load_triplets(DataSource(source=write_jsonl(tmp_path / "t.jsonl", rows))).column_names == [
        "anchor",
        "positive",
        "negative",
    ]


def test_the_committed_smoke_sample_is_real_and_sized_for_a_smoke_run():
    train = load_triplets(DataSource(source=str(SMOKE_DATA / "nli_train.jsonl")))
    dev = load_sts(DataSource(source=str(SMOKE_DATA / "sts_dev.jsonl")), "data.sts_dev")
    assert 200 <= len(train) <= 1000 and 100 <= len(dev.scores) <= 500
    assert (SMOKE_DATA / "README.md").read_text().count("CC BY-SA") >= 2


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"sentence1": "a", "score": 0.5}], "lacks column(s) sentence2; needs sentence1, sentence2, score"),
        ([], "sts.jsonl has no rows"),
        ([{"sentence1": "a", "sentence2": "b", "score": 4.0}, *PAIRS], "row 0 score 4.0 is outside [0, 1]"),
        ([*PAIRS, {"sentence1": "a", "sentence2": "b", "score": None}], "row 5 score is None"),
        ([*PAIRS, {"sentence1": "", "sentence2": "b", "score": 0.1}], "row 5 column sentence1 is ''"),
        ([{"sentence1": "a", "sentence2": "b", "score": 0.5}] * 3, "scores are all equal"),
    ],
)
def test_bad_sts_files_are_refused(tmp_path, rows, message):
    path = tmp_path / "sts.jsonl"
    write_jsonl(path, rows)
    with pytest.raises(InputError) as caught:
        load_sts(DataSource(source=str(path)), "data.sts_dev")
    assert str(caught.value).startswith("data.sts_dev")
    assert message in str(caught.value)


def test_an_empty_compressed_file_is_refused_as_empty(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl.gz", [], compress=True)
    with pytest.raises(InputError, match="data.train: .*t.jsonl.gz has no rows"):
        load_triplets(DataSource(source=path))


def test_bad_triplet_files_are_refused(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"anchor": "a", "positive": "p"}])
    with pytest.raises(InputError, match="data.train: .* lacks column\\(s\\) negative"):
        load_triplets(DataSource(source=path))


def test_missing_and_unreadable_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="data.train.source: data file .* does not exist"):
        load_triplets(DataSource(source=str(tmp_path / "absent.jsonl")))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="data.train.source: cannot read .*broken.parquet"):
        load_triplets(DataSource(source=str(broken)))
