"""Each library internal and environment switch of ``trainables.internals``, checked against the installed
libraries: a Ray, Optuna, W&B or MLflow upgrade that moves one fails here, with the entry's name, instead of
changing what a sweep does. No Ray cluster starts: the checks read the libraries' code or call the internal
on objects made by hand. Ray Tune's experiment state is read from a file Ray 2.60 wrote
(``tests/data/tune_state_ray_2_60``, made by its ``make_experiment.py``)."""

from __future__ import annotations

import ast
import inspect
import json
import logging
import os
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from trainables import internals

from .conftest import ROOT

TUNE_STATE_DATA = ROOT / "tests" / "data" / "tune_state_ray_2_60"


def _reads(source: object, name: str, entry: str) -> None:
    """Fail, naming ``entry``, unless the code of ``source`` (a function, class or module) names ``name``."""
    assert name in inspect.getsource(source), (
        f"internals.{entry}: {getattr(source, '__qualname__', source)} no longer reads {name}"
    )


# Ray: starting it, and joining a cluster.


def test_ray_address_env_is_the_variable_ray_joins():
    from ray._private import ray_constants

    assert ray_constants.RAY_ADDRESS_ENVIRONMENT_VARIABLE == internals.RAY_ADDRESS_ENV, "internals.RAY_ADDRESS_ENV"


def test_ray_tmpdir_env_is_where_ray_puts_its_sessions(monkeypatch, tmp_path):
    from ray._common.utils import get_default_system_temp_dir

    monkeypatch.setenv(internals.RAY_TMPDIR_ENV, str(tmp_path))
    assert get_default_system_temp_dir() == str(tmp_path), "internals.RAY_TMPDIR_ENV: Ray no longer reads it"


def test_ray_longest_socket_is_how_ray_lays_out_its_session_folder():
    from ray._private import node

    source = inspect.getsource(node.Node)
    for part in ('"sockets"', 'default_prefix="plasma_store"', 'f"session_{date_str}_{os.getpid()}"'):
        assert part in source, f"internals.RAY_LONGEST_SOCKET: Ray's session folder no longer holds {part}"
    _, ray, session, sockets, socket = internals.RAY_LONGEST_SOCKET.split("/")
    assert (ray, sockets, socket) == ("ray", "sockets", "plasma_store") and session.startswith("session_")


def test_bind_local_ray_to_loopback_sets_the_switch_ray_reads_when_it_starts(monkeypatch):
    from ray._private import ray_constants, services

    entry = "internals.bind_local_ray_to_loopback"
    assert ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR == internals.RAY_LOCAL_ONLY_ENV, f"{entry}: the variable moved"
    assert isinstance(ray_constants.ENABLE_RAY_CLUSTER, bool), f"{entry}: ray_constants.ENABLE_RAY_CLUSTER is gone"
    # Read at call time in this process, not copied at import: setting the module's value works.
    _reads(services, "ray_constants.ENABLE_RAY_CLUSTER", "bind_local_ray_to_loopback")
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    monkeypatch.setenv(internals.RAY_LOCAL_ONLY_ENV, "1")
    internals.bind_local_ray_to_loopback()
    assert ray_constants.ENABLE_RAY_CLUSTER is False and os.environ[internals.RAY_LOCAL_ONLY_ENV] == "0"


def test_ray_start_timed_out_is_in_the_error_of_a_start_that_missed_its_deadline():
    from ray._private import node

    _reads(node, f"The current node {internals.RAY_START_TIMED_OUT}", "RAY_START_TIMED_OUT")


def test_ray_address_file_is_where_ray_start_records_a_cluster():
    path = internals.ray_address_file()
    assert path.name == "ray_current_cluster", f"internals.ray_address_file: {path}"


def test_tune_checkpoint_period_env_is_read_by_tunes_controller():
    from ray.tune.execution.tune_controller import TuneController

    _reads(TuneController.__init__, f'"{internals.TUNE_CHECKPOINT_PERIOD_ENV}"', "TUNE_CHECKPOINT_PERIOD_ENV")


# Ray's token authentication.


def test_ray_auth_variables_and_token_file_are_the_ones_ray_reads():
    from ray import exceptions
    from ray._private.authentication import authentication_token_setup as setup

    assert setup.AUTH_MODE_ENV_VAR == internals.RAY_AUTH_MODE_ENV, "internals.RAY_AUTH_MODE_ENV"
    _reads(exceptions, f"`{internals.RAY_AUTH_TOKEN_ENV}`", "RAY_AUTH_TOKEN_ENV")
    _reads(exceptions, internals.RAY_AUTH_TOKEN_PATH_ENV, "RAY_AUTH_TOKEN_PATH_ENV")
    assert setup._get_default_token_path() == Path.home() / internals.RAY_AUTH_TOKEN_FILE, (
        "internals.RAY_AUTH_TOKEN_FILE"
    )
    # The variables are read by Ray's compiled core; its library still names them.
    core = Path(inspect.getfile(sys.modules["ray._raylet"])).read_bytes()
    for name in (internals.RAY_AUTH_TOKEN_ENV, internals.RAY_AUTH_TOKEN_PATH_ENV):
        assert name.encode() in core, f"internals: Ray's core no longer names {name}"


def test_ray_token_setup_logger_is_the_logger_of_rays_token_notice():
    from ray._private.authentication import authentication_token_setup as setup

    assert setup.logger.name == internals.RAY_TOKEN_SETUP_LOGGER, "internals.RAY_TOKEN_SETUP_LOGGER"


def test_ray_refused_token_tells_a_refused_token_from_a_missing_one():
    from ray._private.authentication import authentication_constants, http_token_authentication

    source = inspect.getsource(http_token_authentication)
    refused = re.search(r'text="(Forbidden[^"]*)"', source)
    assert refused, "internals.ray_refused_token: Ray's refusal of a token no longer starts with Forbidden"
    assert internals.ray_refused_token(refused[1])
    assert internals.ray_refused_token(authentication_constants.TOKEN_INVALID_ERROR_MESSAGE)
    missing = authentication_constants.TOKEN_AUTH_ENABLED_BUT_NO_TOKEN_FOUND_ERROR_MESSAGE
    assert not internals.ray_refused_token(missing), "internals.ray_refused_token: a missing token reads as refused"


def test_ray_job_agent_not_ready_is_what_a_new_head_answers():
    from ray.dashboard.modules.job import job_head

    _reads(job_head, f'"{internals.RAY_JOB_AGENT_NOT_READY}', "RAY_JOB_AGENT_NOT_READY")


# Ray: a working directory's upload.


def test_upload_internals_keep_the_signatures_and_the_switch_this_code_uses():
    from ray._private import ray_constants
    from ray._private.runtime_env import packaging

    entry = "internals.walk_upload / upload_exclude_rule"
    assert list(inspect.signature(packaging._dir_travel).parameters)[:4] == [
        "path",
        "excludes",
        "handler",
        "include_gitignore",
    ], f"{entry}: _dir_travel's parameters changed"
    assert "logger" in inspect.signature(packaging._dir_travel).parameters, f"{entry}: _dir_travel takes no logger"
    assert list(inspect.signature(packaging._get_excludes).parameters) == ["path", "excludes"], entry
    assert ray_constants.RAY_RUNTIME_ENV_IGNORE_GITIGNORE == internals.RAY_IGNORE_GITIGNORE_ENV
    assert ".git" in internals.upload_default_excludes(), "internals.upload_default_excludes"


def test_walk_upload_skips_what_the_rules_and_gitignore_match(tmp_path, monkeypatch):
    monkeypatch.delenv(internals.RAY_IGNORE_GITIGNORE_ENV, raising=False)
    for name in ("keep.txt", ".env", "run.log", "sub/deep.log", "sub/keep.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".gitignore").write_text("*.log\n")
    skipped: list[Path] = []
    rules: list = []

    def recorded(path: Path) -> bool:
        hit = any(rule(path) for rule in rules[1:])
        skipped.extend([path] if hit else [])
        return hit

    rules.extend([recorded, internals.upload_exclude_rule(tmp_path, [".env*"])])
    internals.walk_upload(tmp_path, rules, logging.getLogger("test.upload"))
    assert sorted(str(path.relative_to(tmp_path)) for path in skipped) == [".env", "run.log", "sub/deep.log"]


# Ray Tune: environment switches, its signal handlers and its log lines.


class _Kept(logging.Handler):
    """Keeps the records of the logger it is added to (Ray's loggers do not reach pytest's)."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_tune_sigint_env_keeps_tunes_handler_off_and_its_stop_handler_on(monkeypatch):
    from ray.tune import tune

    monkeypatch.delenv(internals.TUNE_SIGINT_ENV, raising=False)
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGUSR1)}
    kept, logger = _Kept(), logging.getLogger(internals.TUNE_LOGGER)
    logger.addHandler(kept)
    try:
        with internals.tune_sigint_handler_disabled():
            assert os.environ[internals.TUNE_SIGINT_ENV] == "1"
            interrupted = tune._setup_signal_catching()
        assert internals.TUNE_SIGINT_ENV not in os.environ  # restored as it was
        assert signal.getsignal(signal.SIGINT) is saved[signal.SIGINT], "internals.TUNE_SIGINT_ENV: Tune took SIGINT"
        stop = internals.tune_stop_handler()
        assert stop is not None, "internals.tune_stop_handler: Tune no longer installs a SIGUSR1 handler"
        stop(signal.SIGINT, None)
        assert interrupted.is_set(), "internals.tune_stop_handler: Tune's handler no longer stops the run"
    finally:
        logger.removeHandler(kept)
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert [str(r.msg).startswith(internals.TUNE_STOP_LINES) for r in kept.records] == [True], (
        "internals.TUNE_LOGGER / TUNE_STOP_LINES: Tune's stop line is not where the sweep filters it"
    )


def test_tune_stop_lines_are_what_tune_logs_after_a_stop():
    from ray.tune import tune

    for line in internals.TUNE_STOP_LINES:
        _reads(tune, line, "TUNE_STOP_LINES")
    assert tune.logger.name == internals.TUNE_LOGGER, "internals.TUNE_LOGGER"


def test_tune_auto_loggers_env_leaves_tunes_loggers_out(monkeypatch):
    from ray.tune.logger import LoggerCallback
    from ray.tune.utils.callback import _create_default_callbacks

    def loggers() -> list[str]:
        return [type(c).__name__ for c in _create_default_callbacks([]) if isinstance(c, LoggerCallback)]

    monkeypatch.delenv(internals.TUNE_AUTO_LOGGERS_ENV, raising=False)
    assert loggers(), "Tune adds no logger of its own any more"
    internals.disable_tune_auto_loggers()
    assert loggers() == [], "internals.TUNE_AUTO_LOGGERS_ENV: Tune added its loggers anyway"
    monkeypatch.setenv(internals.TUNE_AUTO_LOGGERS_ENV, "0")
    internals.disable_tune_auto_loggers()
    assert os.environ[internals.TUNE_AUTO_LOGGERS_ENV] == "0"  # a user's own setting wins


def test_tune_trial_errors_env_is_read_by_tunes_controller(monkeypatch):
    from ray.tune.execution.tune_controller import TuneController

    _reads(TuneController.__init__, f'"{internals.TUNE_TRIAL_ERRORS_ENV}", "1"', "TUNE_TRIAL_ERRORS_ENV")
    monkeypatch.delenv(internals.TUNE_TRIAL_ERRORS_ENV, raising=False)
    internals.keep_trial_tracebacks_out()
    assert os.environ[internals.TUNE_TRIAL_ERRORS_ENV] == "0"


def test_tune_new_output_env_chooses_tunes_output_engine(monkeypatch):
    from ray.tune.experimental.output import get_air_verbosity

    monkeypatch.delenv(internals.TUNE_NEW_OUTPUT_ENV, raising=False)
    internals.use_tune_output_engine(new=False)
    assert get_air_verbosity(0) is None, "internals.TUNE_NEW_OUTPUT_ENV: Tune kept its new engine"
    internals.use_tune_output_engine(new=True)
    assert get_air_verbosity(1) is not None, "internals.TUNE_NEW_OUTPUT_ENV: Tune's new engine is gone"


def test_keep_out_of_tune_env_propagation_edits_the_set_tune_reads(monkeypatch):
    from ray.tune.execution import class_cache

    entry = "internals.keep_out_of_tune_env_propagation"
    assert isinstance(class_cache.ENV_VARS_TO_PROPAGATE, set), f"{entry}: ENV_VARS_TO_PROPAGATE is gone"
    # As Tune defines it (an earlier sweep in this process may have taken the keys out of the set already).
    assert "AWS_SECRET_ACCESS_KEY" in inspect.getsource(class_cache), f"{entry}: Tune copies no AWS key now"
    # Read from the module each time an actor class is made, so replacing the module's set is enough.
    _reads(class_cache._ActorClassCache.get, "in ENV_VARS_TO_PROPAGATE:", "keep_out_of_tune_env_propagation")
    monkeypatch.setattr(class_cache, "ENV_VARS_TO_PROPAGATE", set(class_cache.ENV_VARS_TO_PROPAGATE))
    internals.keep_out_of_tune_env_propagation(lambda name: name.startswith("AWS_"))
    assert class_cache.ENV_VARS_TO_PROPAGATE and not any(
        n.startswith("AWS_") for n in class_cache.ENV_VARS_TO_PROPAGATE
    )


# Ray Tune's Optuna searcher and asynchronous Hyperband.


def _optuna_search():
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    searcher = OptunaSearch(metric="score", mode="max")
    assert searcher.set_search_properties("score", "max", {"x": tune.uniform(0.0, 1.0)})
    return searcher


def test_optuna_search_takes_the_arguments_the_sweeps_searcher_passes():
    from ray.tune.search.optuna import OptunaSearch

    # Tune hands the search space over in set_search_properties, which creates the study in the storage and
    # under the name it was given (sweep.tuning.searcher replays trials after it).
    init = inspect.signature(OptunaSearch.__init__).parameters
    assert {"storage", "study_name", "points_to_evaluate", "sampler"} <= set(init)
    assert list(inspect.signature(OptunaSearch.set_search_properties).parameters)[:4] == [
        "self",
        "metric",
        "mode",
        "config",
    ]


def test_optuna_trial_of_is_the_trial_optuna_search_asked_for():
    import optuna

    searcher = _optuna_search()
    config = searcher.suggest("tune-1")
    trial = internals.optuna_trial_of(searcher, "tune-1")
    assert isinstance(trial, optuna.Trial), "internals.optuna_trial_of: OptunaSearch keeps no _ot_trials"
    assert trial.params == config
    assert internals.optuna_trial_of(searcher, "never-asked") is None


def test_optuna_distributions_of_are_the_ones_optuna_search_built():
    from optuna.distributions import FloatDistribution

    distributions = internals.optuna_distributions_of(_optuna_search())
    assert distributions == {"x": FloatDistribution(0.0, 1.0)}, "internals.optuna_distributions_of: _space moved"


def test_place_in_bracket_puts_a_trial_where_asha_looks_for_it():
    from ray.tune.experiment import Trial
    from ray.tune.schedulers import ASHAScheduler

    # The draw the sweep's SeededHyperBand replaces.
    _reads(ASHAScheduler.on_trial_add, "self._trial_info[trial.trial_id] = self._brackets[idx]", "place_in_bracket")
    scheduler = ASHAScheduler(metric="score", mode="max", max_t=9, grace_period=1, reduction_factor=3, brackets=2)
    brackets = internals.hyperband_brackets(scheduler)
    assert [internals.bracket_rung_count(bracket) for bracket in brackets] == [3, 2], "internals: ASHA's rungs moved"
    trial = Trial("__fake", trial_id="t1", stub=True)
    internals.place_in_bracket(scheduler, trial.trial_id, brackets[1])
    # Both look the trial's bracket up where it was placed (a KeyError otherwise).
    assert scheduler.on_trial_result(None, trial, {"training_iteration": 3, "score": 0.5}) == "CONTINUE"
    scheduler.on_trial_remove(None, trial)


# Optuna and ruamel.yaml: warnings and errors matched by their text.


def test_optuna_out_of_range_warning_matches_optunas_warning():
    import optuna

    study = optuna.create_study()
    study.enqueue_trial({"x": 5.0})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.ask().suggest_float("x", 0.0, 1.0)
    assert any(re.match(internals.OPTUNA_OUT_OF_RANGE_WARNING, str(w.message)) for w in caught), (
        f"internals.OPTUNA_OUT_OF_RANGE_WARNING: Optuna now warns {[str(w.message) for w in caught]}"
    )


def test_yaml_duplicate_key_starts_ruamels_problem():
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError

    with pytest.raises(DuplicateKeyError) as raised:
        YAML(typ="safe", pure=True).load("a: 1\na: 2\n")
    assert raised.value.problem.startswith(internals.YAML_DUPLICATE_KEY), (
        f"internals.YAML_DUPLICATE_KEY: {raised.value}"
    )


# W&B, MLflow and tensorboardX.


def test_wandb_variables_are_the_ones_wandb_reads():
    from wandb import env

    assert (env.API_KEY, env.MODE, env.DIR) == (
        internals.WANDB_API_KEY_ENV,
        internals.WANDB_MODE_ENV,
        internals.WANDB_DIR_ENV,
    ), "internals.WANDB_*_ENV"


def test_wandb_settings_without_meta_turn_the_metadata_off():
    settings = internals.wandb_settings_without_meta()
    assert settings.x_disable_meta is True and settings.silent is True, "internals.wandb_settings_without_meta"


def test_stop_wandb_service_calls_wandbs_teardown(monkeypatch):
    import wandb

    assert callable(wandb.teardown), "internals.stop_wandb_service: wandb.teardown is gone"
    calls = []
    monkeypatch.setattr(wandb, "teardown", lambda: calls.append(True))
    internals.stop_wandb_service()
    assert calls == [True]


def test_mlflow_variables_are_the_ones_mlflow_reads():
    from mlflow import environment_variables as mlflow_env

    names = {
        internals.MLFLOW_URI_ENV: mlflow_env.MLFLOW_TRACKING_URI,
        internals.MLFLOW_USERNAME_ENV: mlflow_env.MLFLOW_TRACKING_USERNAME,
        internals.MLFLOW_PASSWORD_ENV: mlflow_env.MLFLOW_TRACKING_PASSWORD,
        internals.MLFLOW_CREDENTIALS[2]: mlflow_env.MLFLOW_TRACKING_TOKEN,
        internals.MLFLOW_RETRIES_ENV: mlflow_env.MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        internals.MLFLOW_TIMEOUT_ENV: mlflow_env.MLFLOW_HTTP_REQUEST_TIMEOUT,
    }
    for name, variable in names.items():
        assert variable.name == name, f"internals: MLflow reads {variable.name}, not {name}"


def test_import_without_torch_keeps_torch_out_of_tensorboardx():
    code = (
        "import sys; from trainables.internals import import_without_torch; import_without_torch('tensorboardX'); "
        "from tensorboardX import SummaryWriter; print('torch' in sys.modules, 'torch' in sys.modules or 'ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, (
        f"internals.import_without_torch: tensorboardX needs torch now\n{result.stderr[-1500:]}"
    )
    assert result.stdout.split() == ["False", "ok"], "internals.import_without_torch: torch was imported anyway"


# The libraries' progress bars and thread pools.


def test_tqdm_disable_turns_every_bar_off():
    code = "import tqdm; print(tqdm.tqdm(range(2)).disable)"
    env = {**os.environ, "TQDM_DISABLE": internals.QUIET_ENVIRONMENT["TQDM_DISABLE"]}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.stdout.strip() == "True", f"internals.QUIET_ENVIRONMENT: tqdm ignores TQDM_DISABLE\n{result.stderr}"


def test_hf_hub_disable_progress_bars_is_read_by_huggingface_hub():
    from huggingface_hub import constants

    _reads(constants, '"HF_HUB_DISABLE_PROGRESS_BARS"', "QUIET_ENVIRONMENT")
    assert internals.QUIET_ENVIRONMENT["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"


def test_tokenizers_parallelism_is_read_by_the_tokenizers_library():
    import tokenizers

    binary = next(Path(tokenizers.__file__).parent.glob("tokenizers*.so"))
    assert b"TOKENIZERS_PARALLELISM" in binary.read_bytes(), "internals.QUIET_ENVIRONMENT: TOKENIZERS_PARALLELISM"
    assert internals.QUIET_ENVIRONMENT["TOKENIZERS_PARALLELISM"] == "false"


# Ray Tune's experiment state, read from a file Ray 2.60 wrote.


def test_the_reader_reads_an_experiment_state_ray_wrote():
    from sweep.store.files import Folder
    from sweep.store.tune_state import read_history, read_records

    # The trial ids are those of the run that made the folder; the tracebacks name `<repo>` for the checkout.
    folder = Folder(TUNE_STATE_DATA)
    records = read_records(folder)
    found = [(r.trial_id, r.status, r.config, r.logdir, r.num_failures, r.run, r.order) for r in records]
    assert found == [
        ("82f07_00000", "TERMINATED", {"kl_temperature": 0.3}, "trial_82f07_00000", 0, 0, 0),
        ("82f07_00001", "TERMINATED", {"kl_temperature": 1.0}, "trial_82f07_00001", 0, 0, 1),
        ("82f07_00002", "ERROR", {"kl_temperature": 2.0}, "trial_82f07_00002", 2, 0, 2),
    ]
    assert records[0].error is None and records[2].error is not None
    assert records[2].error.splitlines()[-1] == "RuntimeError: the third trial fails after its first report"
    histories = [read_history(folder, r) for r in records]
    assert [list(history["step"]) for history in histories] == [[1, 2], [1, 2], [1, 1]]  # both attempts' rows
    assert [list(history["completed"]) for history in histories] == [[False, True], [False, True], [False, False]]
    assert list(histories[1]["sts_dev_spearman_cosine"]) == pytest.approx([0.11, 0.12])
    assert not {"config", "trial_id", "pid", "hostname"} & set(histories[0]), "Ray's bookkeeping is dropped"


def test_the_installed_ray_still_writes_the_state_the_reader_reads():
    from ray.tune.execution.tune_controller import TuneController
    from ray.tune.experiment import Trial

    from sweep.store.records import RayRuntime, RayTrial

    assert [p.name for p in TUNE_STATE_DATA.iterdir() if internals.TUNE_STATE_FILE.match(p.name)], "TUNE_STATE_FILE"
    example = TuneController.CKPT_FILE_TMPL.format("2026-01-01_00-00-00")
    assert internals.TUNE_STATE_FILE.match(example), f"internals.TUNE_STATE_FILE: Ray names it {example}"
    _reads(TuneController.save_to_dir, '"trial_data": list(self._get_trial_checkpoints().values())', "TUNE_STATE_FILE")
    trial = Trial("__fake", config={"x": 1}, trial_id="abc", experiment_tag="1_x=1", stub=True)
    state, runtime = (json.loads(part) for part in trial.get_json_state())
    assert set(RayTrial.model_fields) <= set(state), (
        f"Ray's trial state lacks {set(RayTrial.model_fields) - set(state)}"
    )
    assert set(RayRuntime.model_fields) <= set(runtime), (
        f"Ray's runtime lacks {set(RayRuntime.model_fields) - set(runtime)}"
    )
    assert (state["trial_id"], state["status"], state["config"]) == ("abc", "PENDING", {"x": 1})


# No internal spelled anywhere else.


def _names() -> set[str]:
    """The names this module holds: the variables and the internals' strings."""
    names = set(internals.QUIET_ENVIRONMENT) | set(internals.MLFLOW_CREDENTIALS) | set(internals.TUNE_STOP_LINES)
    for key, value in vars(internals).items():
        if key.isupper() and isinstance(value, str):
            names.add(value)
    return names


def test_no_other_module_spells_an_internal_or_a_librarys_variable():
    names = _names()
    private = {"_private", "ENV_VARS_TO_PROPAGATE", "ENABLE_RAY_CLUSTER", "_ot_trials", "_trial_info", "_rungs"}
    found = []
    for top in ("sweep", "trainables", "benchmarks"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path == Path(internals.__file__):
                continue
            tree = ast.parse(path.read_text())
            docstrings = {
                id(node.body[0].value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.body
                and isinstance(node.body[0], ast.Expr)
            }
            for node in ast.walk(tree):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                    if node.value in names or "_private" in node.value:
                        found.append(f"{where}: {node.value!r}")
                elif isinstance(node, ast.ImportFrom) and "_private" in (node.module or ""):
                    found.append(f"{where}: {node.module}")
                elif isinstance(node, ast.Attribute | ast.alias):
                    name = node.attr if isinstance(node, ast.Attribute) else node.name
                    if private & set(name.split(".")):
                        found.append(f"{where}: {name}")
    assert not found, "use trainables.internals instead:\n" + "\n".join(found)
