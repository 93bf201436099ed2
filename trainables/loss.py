"""The loss a trial trains with: MultipleNegativesRankingLoss wrapped in AdaptiveLayerLoss."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

# The reference defaults: AdaptiveLayerLoss's own defaults, which the reference model card was trained
# with. The sweep always evaluates this point first and retrains it next to the best config.
LOSS_DEFAULTS: dict[str, Any] = {
    "n_layers_per_step": 1,
    "last_layer_weight": 1.0,
    "prior_layers_weight": 1.0,
    "kl_div_weight": 1.0,
    "kl_temperature": 0.3,
    "layer_weighting": "uniform",
}
LAYER_WEIGHTINGS = ("uniform", "log", "linear")
# A params key no search space holds: False trains MultipleNegativesRankingLoss alone, the baseline that
# says what AdaptiveLayerLoss buys over plain training (the retrain's `plain` arm).
ADAPTIVE = "adaptive_layer"


def build_loss(model: SentenceTransformer, params: dict[str, Any]) -> torch.nn.Module:
    """Wrap MultipleNegativesRankingLoss in AdaptiveLayerLoss with the trial's values.

    Keys of ``LOSS_DEFAULTS`` missing from ``params`` take the reference default; other keys are ignored.
    With ``params[ADAPTIVE]`` False, MultipleNegativesRankingLoss alone: the loss values are not used.
    """
    # Imported here: the driver reads LOSS_DEFAULTS without paying for sentence-transformers' import.
    from sentence_transformers.sentence_transformer.losses import AdaptiveLayerLoss, MultipleNegativesRankingLoss

    if params.get(ADAPTIVE, True) is False:
        return MultipleNegativesRankingLoss(model)
    values = {key: params.get(key, default) for key, default in LOSS_DEFAULTS.items()}
    return AdaptiveLayerLoss(model, MultipleNegativesRankingLoss(model), **values)
