"""The model checked once, in the driver, before Ray starts: a broken model is one line and exit 2, not
a traceback in every trial, retried until the sweep gives up (or worse, a sweep that runs and reports).

It loads the model the way a trial does (``build_model``: a hub id, a local folder, a package, the tiny
model) and refuses, naming the file:
- a config.json whose sizes are not positive whole numbers, or whose heads do not divide the hidden size;
- weights that are missing, unreadable, or do not match the config (a missing layer, another shape);
- a tokenizer without a real vocabulary: transformers loads a folder without tokenizer files with a
  fallback of 5 special tokens that turns every word into the unknown token, and training then runs;
- a ``max_seq_length`` beyond the model's position embeddings;
- a model that cannot encode one sentence, at ``max_seq_length`` tokens, at every depth.
It costs one load of the model on the CPU and one forward pass (the README gives the figures).
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainables.errors import InputError, reason
from trainables.model import ModelConfig, build_model, config_file, encoder, hf_config, resolve_folder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Plain English words: any vocabulary this sweep can train on (its data is English) spells each one.
PROBE = "a man is playing a guitar on the stage while a woman sings"
# Real vocabularies hold tens of thousands of tokens, the tiny model's committed one 3,000; transformers'
# fallback for a folder without tokenizer files holds the 5 special tokens.
MIN_VOCAB = 1000
# The sizes a model is built from, by their transformers names (a config's own aliases, such as
# DistilBERT's n_heads, are read through them).
SIZE_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
)
# Where transformers looks for weights in a folder, in its order.
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# A checkpoint may lack the pooler (distilroberta-base does): sentence-transformers pools the token
# embeddings itself and never runs it, so its fresh weights change nothing.
UNUSED_PREFIXES = ("pooler.",)


def check_model(config: ModelConfig, n_layers: int) -> None:
    """Raise InputError, one line naming the file, for a model that a trial could not train and score
    as this sweep means: see the module's docstring. ``n_layers``: the depth the sweep plans for."""
    where = "the tiny model"
    if config.tiny is None:
        where = resolve_folder(config)
        loaded = hf_config(where)
        _check_sizes(loaded, where)
        _check_weights(where, loaded)
    try:
        model = build_model(config, device="cpu")  # the driver keeps the GPUs for the trials
    except InputError:
        raise
    except Exception as error:  # transformers and torch raise many kinds for a model they cannot load
        raise InputError(f"model: cannot load {where}: {type(error).__name__}: {reason(error)}") from None
    try:
        _check_tokenizer(model, where)
        _check_length(model, config, where)
        _check_encoding(model, n_layers, where)
    finally:
        del model
        gc.collect()


def _check_sizes(loaded: Any, folder: str) -> None:
    """Every size a positive whole number, and the heads dividing the hidden size (transformers checks
    the types of some, and the heads only when it builds the model)."""
    names = getattr(loaded, "attribute_map", {})
    key = {field: names.get(field, field) for field in SIZE_FIELDS}  # as config.json spells it
    for field in SIZE_FIELDS:
        value = getattr(loaded, field, None)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InputError(f"model: {config_file(folder)}: {key[field]} is {value!r}; give a positive whole number")
    hidden, heads = getattr(loaded, "hidden_size", None), getattr(loaded, "num_attention_heads", None)
    if hidden is not None and heads is not None and hidden % heads:
        raise InputError(
            f"model: {config_file(folder)}: {key['num_attention_heads']} {heads} does not divide "
            f"{key['hidden_size']} {hidden}; each head takes an equal share of it"
        )


def _check_weights(folder: str, loaded: Any) -> None:
    """The weights file read whole into the model the config describes: none missing, none of another
    shape. transformers would fill a missing layer with random weights and train on, saying so only in
    a log line the sweep silences."""
    from transformers import AutoModel

    weights = _weights_file(folder)
    try:
        model, info = AutoModel.from_pretrained(
            folder, config=loaded, output_loading_info=True, ignore_mismatched_sizes=True
        )
    except Exception as error:  # a truncated file, an unknown format, a torch that cannot read it …
        raise InputError(f"model: cannot read {weights}: {type(error).__name__}: {reason(error)}") from None
    del model
    if info["mismatched_keys"]:
        key, in_file, in_model = sorted(info["mismatched_keys"])[0]
        raise InputError(
            f"model: {weights} does not match {config_file(folder)}: {key} is {list(in_file)} in the weights, "
            f"{list(in_model)} in the model the config describes"
        )
    missing = sorted(key for key in info["missing_keys"] if not key.startswith(UNUSED_PREFIXES))
    if missing:
        raise InputError(
            f"model: {weights} does not match {config_file(folder)}: {len(missing)} weights the config "
            f"describes are missing, such as {missing[0]}"
        )


def _weights_file(folder: str) -> str:
    """The weights file transformers would read from a local folder (the hub id for a hub model). Raises
    InputError for a folder without one."""
    local = Path(folder)
    if not local.exists():
        return f"the weights of {folder}"
    for name in WEIGHT_FILES:
        if (local / name).is_file():
            return str(local / name)
    raise InputError(f"model: {folder} has no weights file; give a folder with {' or '.join(WEIGHT_FILES[::2])}")


def _check_tokenizer(model: SentenceTransformer, where: str) -> None:
    """A real vocabulary that spells plain English words, and no token id beyond the model's embeddings."""
    tokenizer = model.tokenizer
    size = len(tokenizer)
    ids = tokenizer(PROBE, add_special_tokens=False)["input_ids"]
    unknown = sum(1 for token in ids if token == tokenizer.unk_token_id) if tokenizer.unk_token_id is not None else 0
    if size < MIN_VOCAB or unknown:
        raise InputError(
            f"model: {where} has no real tokenizer: {size} tokens, and {unknown} of the {len(ids)} tokens of "
            f"{PROBE!r} are unknown; give a folder with its tokenizer files (tokenizer.json, or vocab.txt with "
            "tokenizer_config.json)"
        )
    rows = encoder(model).get_input_embeddings().num_embeddings
    if size > rows:
        raise InputError(
            f"model: the tokenizer of {where} has {size} tokens, more than the {rows} rows of its embeddings "
            "(vocab_size in config.json); give the tokenizer the model was trained with"
        )


def _check_length(model: SentenceTransformer, config: ModelConfig, where: str) -> None:
    """``max_seq_length`` within the position embeddings. RoBERTa-style models (and MPNet) number positions
    from their padding index + 1, as transformers does, so they hold that many fewer tokens."""
    auto = encoder(model)
    positions = getattr(auto.config, "max_position_embeddings", None)
    table = getattr(getattr(auto, "embeddings", None), "position_embeddings", None)
    if not isinstance(positions, int) or positions < 1:  # relative or rotary positions: no table to overrun
        return
    padding = getattr(table, "padding_idx", None)
    offset = padding + 1 if padding is not None else 0
    limit = positions - offset
    if model.max_seq_length is not None and model.max_seq_length > limit:
        source = "model.max_seq_length" if config.max_seq_length is not None else f"max_seq_length of {where}"
        beyond = f"max_position_embeddings {positions}" + (f", less {offset} for its padding offset" if offset else "")
        raise InputError(
            f"{source}: {model.max_seq_length} exceeds the {limit} positions of {_config_of(where)} "
            f"({beyond}); give at most {limit}"
        )


def _check_encoding(model: SentenceTransformer, n_layers: int, where: str) -> None:
    """One sentence of ``max_seq_length`` tokens through every layer, as the evaluation runs it: an
    embedding per depth, all finite."""
    import numpy as np

    from trainables.evaluation import embed_all_depths

    sentence = " ".join([PROBE] * ((model.max_seq_length or 0) // 4 + 1))  # cut to max_seq_length tokens
    try:
        embeddings = embed_all_depths(model, [sentence])
    except Exception as error:
        raise InputError(
            f"model: {where} cannot encode a sentence of {model.max_seq_length} tokens: "
            f"{type(error).__name__}: {reason(error)}"
        ) from None
    if len(embeddings) != n_layers:
        raise InputError(f"model: {where} has {len(embeddings)} layers, but {_config_of(where)} says {n_layers}")
    if not np.isfinite(embeddings).all():
        raise InputError(f"model: {where} encodes a sentence as NaN or infinite values; its weights are damaged")


def _config_of(where: str) -> str:
    return where if where == "the tiny model" else config_file(where)
