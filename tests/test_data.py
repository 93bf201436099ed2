"""Local data files in every supported format load; broken ones are refused with the file named."""

from __future__ import annotations

import gzip
import json
import os
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


def test_a_folder_or_a_fifo_with_a_data_files_name_is_said_to_be_one(tmp_path):
    (tmp_path / "folder.jsonl").mkdir()
    os.mkfifo(tmp_path / "pipe.jsonl")
    with pytest.raises(InputError, match=r"data.train.source: .*folder.jsonl is a folder, not a regular file"):
        load_triplets(DataSource(source=str(tmp_path / "folder.jsonl")))
    with pytest.raises(InputError, match=r"pipe.jsonl is a FIFO \(named pipe\), not a regular file; give a data file"):
        load_triplets(DataSource(source=str(tmp_path / "pipe.jsonl")))


@pytest.mark.parametrize("source", ["pairs.tsv", "pairs.txt", "pairs.jsonl.bz2", "pairs.gz", "./stsb", "a/b/c", "~/x"])
def test_a_local_path_of_a_format_not_read_here_is_not_taken_for_a_hub_id(source):
    with pytest.raises(ValueError, match=r"is a local file of a format not read here; use .json, .jsonl, .csv or"):
        DataSource(source=source)


def test_an_existing_folder_is_not_taken_for_a_hub_id(tmp_path):
    with pytest.raises(ValueError, match=r"is a folder; give one data file"):
        DataSource(source=str(tmp_path))


@pytest.mark.parametrize("source", ["sentence-transformers/stsb", "glue", "org/data.v2", "org/name.jsonl-like"])
def test_hub_ids_stay_hub_ids(source):
    assert not DataSource(source=source).is_local


def test_bytes_that_are_not_utf8_are_refused_naming_the_line_for_sts_and_triplets(tmp_path):
    good = "".join(json.dumps(row) + "\n" for row in PAIRS).encode()
    path = tmp_path / "sts.jsonl"
    path.write_bytes(good + '{"sentence1": "café", "sentence2": "b", "score": 0.3}\n'.encode("cp1252"))
    with pytest.raises(
        InputError, match=r"data.sts_dev.source: .*sts.jsonl is not UTF-8 text: line 6 has the byte 0xe9"
    ):
        load_sts(DataSource(source=str(path)), "data.sts_dev")
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(gzip.compress(b"anchor,positive,negative\n" + b"a,p,n\n" * 3 + b"caf\xe9,p,n\n"))
    with pytest.raises(InputError, match=r"data.train.source: .*t.csv.gz is not UTF-8 text: line 5 has the byte 0xe9"):
        load_triplets(DataSource(source=str(gz)))
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(good + '{"sentence1": "é'.encode()[:-1])
    with pytest.raises(InputError, match=r"it ends inside a character \(line 6\)"):
        load_sts(DataSource(source=str(cut)), "data.sts_dev")


def test_the_utf8_check_reads_in_chunks_without_losing_a_character_or_a_line(tmp_path):
    from trainables.file_checks import check_file

    # A two-byte character across the 1 MiB boundary between two reads is fine; the line count goes on.
    line = b"x" * 1023 + b"\n"
    head = line * 1023 + b"x" * 1023
    path = tmp_path / "big.jsonl"
    path.write_bytes(head + "é\n".encode() + line * 5 + b"\xff\n")
    with pytest.raises(InputError, match=r"line 1030 has the byte 0xff"):
        check_file(str(path), "data.train")
    path.write_bytes(head + "é\n".encode() + line * 5)
    assert check_file(str(path), "data.train") == path


def test_a_column_named_twice_is_refused_naming_it(tmp_path):
    csv_path = tmp_path / "sts.csv"
    csv_path.write_text(
        "sentence1,sentence2,score,sentence1\n" + "".join(f"a{i},b{i},{i / 5},c{i}\n" for i in range(5))
    )
    with pytest.raises(InputError, match=r"data.sts_dev.source: .*sts.csv has the column 'sentence1' twice"):
        load_sts(DataSource(source=str(csv_path)), "data.sts_dev")
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [pa.array(["a", "b"]), pa.array(["c", "d"]), pa.array([0.1, 0.2]), pa.array([0.3, 0.4])]
    pq.write_table(pa.table(columns, names=["sentence1", "sentence2", "score", "score"]), tmp_path / "sts.parquet")
    with pytest.raises(InputError, match=r"sts.parquet has the column 'score' twice"):
        load_sts(DataSource(source=str(tmp_path / "sts.parquet")), "data.sts_dev")


def test_a_gzip_file_cut_short_or_not_gzip_at_all_is_refused_in_one_line(tmp_path):
    whole = gzip.compress("".join(json.dumps(row) + "\n" for row in TRIPLETS * 50).encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match=r"cannot read .*cut.jsonl.gz: EOFError: Compressed file ended"):
        load_triplets(DataSource(source=str(tmp_path / "cut.jsonl.gz")))
    (tmp_path / "plain.jsonl.gz").write_text(json.dumps(TRIPLETS[0]) + "\n")
    with pytest.raises(InputError, match=r"cannot read .*plain.jsonl.gz: BadGzipFile: Not a gzipped file"):
        load_triplets(DataSource(source=str(tmp_path / "plain.jsonl.gz")))


def test_a_link_named_as_a_data_file_is_read_through_its_name_not_its_target(tmp_path):
    from trainables.data import DataConfig

    blob = tmp_path / "store" / "blob-3f2a"  # a content-addressed store's file, without a suffix
    blob.parent.mkdir()
    write_jsonl(blob, TRIPLETS)
    (tmp_path / "train.jsonl").symlink_to(blob)
    (tmp_path / "null.jsonl").symlink_to("/dev/null")
    data = DataConfig(train=DataSource(source=str(tmp_path / "train.jsonl"))).resolved()
    assert data.train.is_local and load_triplets(data.train)["anchor"] == [row["anchor"] for row in TRIPLETS]
    null = DataConfig(train=DataSource(source=str(tmp_path / "null.jsonl"))).resolved()
    with pytest.raises(InputError, match=r"null.jsonl is a character device, not a regular file"):
        load_triplets(null.train)


def test_a_json_key_given_twice_is_refused_where_the_reader_would_keep_the_last_or_fail_obscurely(tmp_path):
    rows = [json.dumps(row) for row in TRIPLETS]
    rows[3] = rows[3][:-1] + ', "anchor": "another"}'
    (tmp_path / "t.json").write_text("[" + ",".join(rows) + "]")  # the reader kept "another", silently
    with pytest.raises(InputError, match=r"data.train.source: .*t.json has an object with the key 'anchor' twice"):
        load_triplets(DataSource(source=str(tmp_path / "t.json")))
    (tmp_path / "t.jsonl").write_text("\n".join(rows) + "\n")  # the reader said "Trailing data at position 50"
    with pytest.raises(InputError, match=r"data.train.source: .*t.jsonl line 4 has the key 'anchor' twice"):
        load_triplets(DataSource(source=str(tmp_path / "t.jsonl")))
    (tmp_path / "cut.jsonl").write_text("\n".join(rows[:2]) + '\n{"anchor": "b", "positive": \n')
    with pytest.raises(InputError, match=r"cut.jsonl line 3 is not JSON: Expecting value at column 28"):
        load_triplets(DataSource(source=str(tmp_path / "cut.jsonl")))
