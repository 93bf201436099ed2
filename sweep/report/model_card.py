"""The delivered model's card (``best_model/README.md``): what the reference model card carries, for this
model. sentence-transformers writes the card as it saves the model (architecture, tags, widget, library
versions); this adds, through huggingface_hub's own card data, the ``model-index`` with the ten STS
metrics of this model on STS-dev and STS-test (as the reference card lists them), and a section with the
base model, the training data, the loss and its chosen parameters, the trainer settings, the per-depth
table beside the reference defaults and the untrained model, the verdict with its intervals, and the
command that reproduces it. Writing it again (``sweep report``) replaces that section, never adds one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import yaml

from sweep.report.comparison import arm_columns, attribution_bullets, attribution_lines, depth_cell, verdict_lines
from sweep.report.markdown import fmt, short, spread, table
from trainables.metrics import METRIC_NAMES

if TYPE_CHECKING:
    from huggingface_hub import ModelCardData

SECTION = "## Adaptive-layer sweep"
EMPTY = "---\n---\n"  # a card with no metadata yet
log = logging.getLogger("sweep")
TASK = "semantic-similarity"
SPLITS = (("sts_dev", "sts-dev", "sts dev"), ("test", "sts-test", "sts test"))  # report key, type, name


def render_card(existing: str | None, report: dict[str, Any]) -> str:
    """The card: ``existing`` (the one sentence-transformers wrote) with its model-index and this sweep's
    section set from ``report``."""
    from huggingface_hub import EvalResult, ModelCard

    try:
        card = ModelCard(existing or EMPTY)
    except (ValueError, yaml.YAMLError) as error:  # a damaged card: the model is fine, the card is rebuilt
        log.warning("best_model/README.md could not be read (%s); writing the card afresh", type(error).__name__)
        card = ModelCard(EMPTY)
    delivered = report["delivered"]
    card_data = cast("ModelCardData", card.data)  # what ModelCard(...) reads from a model card
    card_data.model_name = report["name"]
    card_data.eval_results = [
        EvalResult(
            task_type=TASK,
            task_name="Semantic Similarity",
            dataset_type=dataset_type,
            dataset_name=dataset_name,
            metric_type=metric,
            metric_name=metric.replace("_", " ").title(),
            metric_value=delivered[split][metric],
        )
        for split, dataset_type, dataset_name in SPLITS
        if delivered.get(split)
        for metric in METRIC_NAMES
    ]
    body = card.text.split(SECTION)[0].rstrip()
    card.text = f"{body}\n\n{_section(report)}\n"
    return str(card)


def _section(report: dict[str, Any]) -> str:
    recipe, delivered = report["recipe"], report["delivered"]
    train = recipe["train"]
    params = ", ".join(f"`{key}` {short(value)}" for key, value in report["best"]["config"].items())
    lines = [
        SECTION,
        "",
        f"Base model: {report['model']}. Training data: {_source(recipe['data']['train'])}. Loss: {recipe['loss']}, "
        f"with the parameters the sweep `{report['name']}` chose among {report['trials']['total']} trials: {params}.",
        "",
        f"Trainer: {short(train['epochs'])} epoch(s), batch size {train['batch_size']}, learning rate "
        f"{train['learning_rate']:g} and warm-up ratio {train['warmup_ratio']:g} unless chosen above, precision "
        f"{train['precision']}, seed {delivered['seed']}; these are the weights of step {delivered['chosen_step']}, "
        "the run's best STS-dev evaluation.",
        "",
        "### STS, this model (×100)",
        "",
        *table(
            ["split", *METRIC_NAMES],
            [
                [name, *(fmt(delivered[split][m]) for m in METRIC_NAMES)]
                for split, _, name in SPLITS
                if delivered.get(split)
            ],
        ),
        "",
        f"### STS-test spearman_cosine by depth (×100, {spread(report['seeds']['retrain'])})",
        "",
        *_depth_table(report),
    ]
    if report["verdict"] is not None:
        lines += ["", "### This config − the reference defaults (STS-test spearman_cosine ×100)", ""]
        lines += [f"- {text}" for text in verdict_lines(report)]
        lines += ["", f"Method: {report['verdict']['full']['method']}."]
    if attribution_lines(report):
        lines += ["", "### What caused the difference (STS-test spearman_cosine ×100, depths' intervals adjusted)", ""]
        lines += attribution_bullets(report)
    lines += ["", "Reproduce:", "", "```bash", report["command"], "```"]
    return "\n".join(lines)


def _depth_table(report: dict[str, Any]) -> list[str]:
    columns = arm_columns(report)
    rows = [
        [
            str(depth) + (" (full)" if depth == report["n_layers"] else ""),
            *(depth_cell(summary, i) for _, summary in columns),
        ]
        for i, depth in enumerate(report["depths"])
    ]
    return table(["layers", "this config", *(label for label, _ in columns[1:])], rows)


def _source(source: dict[str, Any]) -> str:
    """The training data as a reader of the card can find it: a hub id, or a local file's name only (the
    driver's folders are nobody else's business)."""
    name = source["source"]
    if Path(name).is_absolute():
        text = f"`{Path(name).name}`"
    else:
        text = f"`{name}`" + (f" ({source['subset']})" if source.get("subset") else "")
    if source.get("limit"):
        sample = "a random sample of" if source.get("shuffle") is not None else "the first"
        text += f", {sample} {source['limit']} rows"
    return text
