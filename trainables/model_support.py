"""Which models the sweep can score at every depth the way users run them, refused before a sweep starts
where it cannot.

The sweep scores depth d by feeding the d-th hidden state of one forward pass to the modules after the
transformer (``trainables.evaluation``), and AdaptiveLayerLoss trains those same hidden states. That is
what a model cut to d layers outputs (what a user deploys) only where nothing runs between the last
layer and the output: post-norm encoders, BERT and RoBERTa style. Pre-norm models (T5, ModernBERT,
GPT-2 and Llama style) apply a final norm to the last hidden state alone, so their shallow scores would
describe a model nobody can run. A model with a default prompt is encoded with it by ``encode``, while
the training and the evaluation here add none, so its scores would not be the model's as used.
"""

from __future__ import annotations

from pathlib import Path

from trainables.errors import InputError
from trainables.model import ModelConfig, model_type, read_json, resolve_folder

# Checked by test (a truncated model scores what the one-pass evaluation scores) for bert and roberta;
# the others share their post-norm layer stack, with no module between the last layer and the output.
POST_NORM_ENCODERS = ("bert", "roberta", "xlm-roberta", "camembert", "distilbert", "mpnet", "electra")


def check_supported(config: ModelConfig) -> None:
    """Raise InputError for a model whose per-depth scores would not be a truncated model's, or that
    encodes with a default prompt."""
    kind = model_type(config)
    if kind not in POST_NORM_ENCODERS:
        raise InputError(
            f"model: {config.reference} is a {kind!r} model; per-depth scores are exact only for post-norm "
            f"encoders, where a shallow hidden state is what a model cut to that depth outputs: "
            f"{', '.join(POST_NORM_ENCODERS)}"
        )
    if config.tiny is not None:
        return
    prompt = _sentence_transformers_config(resolve_folder(config)).get("default_prompt_name")
    if prompt:
        raise InputError(
            f"model: {config.reference} encodes with the default prompt {prompt!r}, which the sweep's training "
            "and evaluation do not add; give a model without default_prompt_name"
        )


def _sentence_transformers_config(folder: str) -> dict:
    """The model's config_sentence_transformers.json (prompts live there), or {} where it has none."""
    local = Path(folder)
    if local.exists():
        return read_json(local / "config_sentence_transformers.json")
    from huggingface_hub import hf_hub_download

    try:
        return read_json(Path(hf_hub_download(folder, "config_sentence_transformers.json")))
    except (OSError, ValueError):  # no such file in the repository, or the hub cannot be reached
        return {}
