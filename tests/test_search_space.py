"""The YAML vocabulary maps to Ray Tune domains; the reference defaults come first."""

from __future__ import annotations

import pytest
from ray.tune.search.sample import Categorical, Float, Integer

from sweep.config.search_space import (
    check_depth,
    check_reference_inside,
    first_point,
    parse_space,
    reference_point,
    trial_params,
)
from sweep.tuning.space import param_space
from trainables.errors import InputError
from trainables.loss import LOSS_DEFAULTS
from trainables.train_config import TrainConfig

TRAINER_KNOBS = {"learning_rate": 5e-5, "warmup_ratio": 0.1, "batch_size": 128}
TRAINER = TrainConfig(**TRAINER_KNOBS)


def test_each_kind_becomes_the_matching_tune_domain():
    space = parse_space(
        {
            "kl_temperature": {"loguniform": [0.05, 2.0]},
            "last_layer_weight": {"uniform": [0.5, 2.0]},
            "batch_size": {"int": [16, 64]},
            "n_layers_per_step": {"choice": [1, 2, -1]},
            "kl_div_weight": 0.5,
        }
    )
    tune_space = param_space(space, reference_point(TRAINER))
    temperature = tune_space["kl_temperature"]
    assert isinstance(temperature, Float) and (temperature.lower, temperature.upper) == (0.05, 2.0)
    assert "LogUniform" in type(temperature.get_sampler()).__name__
    assert isinstance(tune_space["last_layer_weight"], Float)
    batch = tune_space["batch_size"]
    assert isinstance(batch, Integer) and (batch.lower, batch.upper) == (16, 65)  # YAML range is inclusive
    assert isinstance(tune_space["n_layers_per_step"], Categorical)
    assert tune_space["n_layers_per_step"].categories == [1, 2, -1]
    assert tune_space["kl_div_weight"] == 0.5
    # parameters the file does not name keep their reference value
    assert tune_space["prior_layers_weight"] == 1.0 and tune_space["learning_rate"] == 5e-5


def test_the_first_point_is_the_reference_defaults_of_the_searched_parameters():
    space = parse_space({"kl_temperature": {"uniform": [0.1, 1.0]}, "layer_weighting": {"choice": ["log", "uniform"]}})
    assert first_point(space, reference_point(TRAINER)) == {"kl_temperature": 0.3, "layer_weighting": "uniform"}


def test_the_reference_defaults_are_the_loss_defaults_and_the_trainer_settings():
    reference = reference_point(TRAINER)
    assert reference == {**LOSS_DEFAULTS, **TRAINER_KNOBS}
    assert LOSS_DEFAULTS == {
        "n_layers_per_step": 1,
        "last_layer_weight": 1.0,
        "prior_layers_weight": 1.0,
        "kl_div_weight": 1.0,
        "kl_temperature": 0.3,
        "layer_weighting": "uniform",
    }


def test_a_single_choice_is_a_fixed_value():
    space = parse_space({"n_layers_per_step": {"choice": [2]}})
    assert not space["n_layers_per_step"].searched
    assert trial_params(space, reference_point(TRAINER))["n_layers_per_step"] == 2


def test_all_layers_is_allowed_but_not_as_a_range_bound():
    assert parse_space({"n_layers_per_step": -1})["n_layers_per_step"].values == (-1,)
    with pytest.raises(InputError, match="-1 \\(all layers\\) cannot be a range bound"):
        parse_space({"n_layers_per_step": {"int": [-1, 3]}})


def test_depth_is_checked_against_the_model():
    check_depth(parse_space({"n_layers_per_step": {"choice": [1, 6, -1]}}), n_layers=6)
    with pytest.raises(InputError, match="7 exceeds the model's 6 layers"):
        check_depth(parse_space({"n_layers_per_step": {"int": [1, 7]}}), n_layers=6)


def test_ranges_must_contain_the_reference_default():
    check_reference_inside(parse_space({"kl_temperature": {"uniform": [0.3, 1.0]}}), reference_point(TRAINER))
    with pytest.raises(InputError, match="leaves out the reference default 1"):
        check_reference_inside(parse_space({"n_layers_per_step": {"choice": [2, 3]}}), reference_point(TRAINER))
