"""Every internal of Ray, Optuna, W&B, MLflow and the other libraries that this code relies on, and every
environment variable it reads or sets for them, in one place.

Each entry says what it does for us and why no public route does it. A library may change any of them in a
minor release without notice; ``tests/test_internals.py`` checks each against the installed libraries and
names the entry that moved, so an upgrade fails there, loudly, rather than as a changed behaviour somewhere
in a sweep. Nothing is imported here until it is used: importing this module costs nothing, and it imports
nothing of the sweep (the trial code needs some of these too).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Ray: starting it, and joining a cluster.

# The cluster a command joins when `--address` is not given, as Ray's own tools read it (`ray job submit`
# sets it for the job it runs). Public and documented; named here with the other variables Ray reads.
RAY_ADDRESS_ENV = "RAY_ADDRESS"
# Where Ray puts its session folders (sockets, logs), read by Ray when it starts; Ray falls back on TMPDIR,
# then /tmp (ray._common.utils.get_default_system_temp_dir). The sweep checks the folder before Ray starts,
# which has no API that says where it will go.
RAY_TMPDIR_ENV = "RAY_TMPDIR"
# Ray's longest socket path inside that folder (its session folder's name, then the object store's socket),
# which a Unix socket's 107 bytes must hold; Ray fails late and obscurely when it does not fit.
RAY_LONGEST_SOCKET = "/ray/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store"
# Ray's switch for "other nodes may join this one" (its macOS and Windows default is off). Off, a Ray started
# here binds its servers to 127.0.0.1 instead of every interface; `ray.init` has no argument for that.
RAY_LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
# In the bare Exception a local `ray.init` raises when its node misses Ray's start-up deadline (a busy
# machine): no exception type of its own to catch.
RAY_START_TIMED_OUT = "timed out during startup"
# Periodic saves of Tune's experiment state, in seconds (read when its controller starts); the fault
# benchmark saves every second so that a kill loses little. No TuneConfig field sets it.
TUNE_CHECKPOINT_PERIOD_ENV = "TUNE_GLOBAL_CHECKPOINT_S"


def bind_local_ray_to_loopback() -> None:
    """Make a Ray started in this process bind its servers to 127.0.0.1 rather than every interface.

    Ray does so when it believes no other node may join. It reads the switch from ``ray_constants`` (a
    private module, set at its import) in this process and from the environment in the processes it
    starts, so both are set."""
    from ray._private import ray_constants

    os.environ[RAY_LOCAL_ONLY_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def ray_address_file() -> Path:
    """The file where ``ray start`` records a running cluster's address, which ``ray.init()`` attaches to;
    the fault benchmark removes the one its test cluster left. Ray names it in a private helper only."""
    from ray._private.utils import get_ray_address_file

    return Path(get_ray_address_file(None))


# Ray's token authentication (Ray 2.60). Read once, when Ray is imported; no API sets them.
RAY_AUTH_MODE_ENV = "RAY_AUTH_MODE"  # "token" sends a token; unset, `ray start --head` decides
RAY_AUTH_TOKEN_ENV = "RAY_AUTH_TOKEN"  # the token itself
RAY_AUTH_TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"  # a file holding it
RAY_AUTH_TOKEN_FILE = Path(".ray") / "auth_token"  # the default file, under the home folder
# The logger of Ray's token set-up, which warns on every local start; no switch silences it but its level.
RAY_TOKEN_SETUP_LOGGER = "ray._private.authentication.authentication_token_setup"


def ray_refused_token(text: str) -> bool:
    """Whether Ray's AuthenticationError (its text) says the token was refused, rather than missing: Ray raises
    one type for both, and says which in its message only ("Forbidden: Invalid authentication token")."""
    return "Forbidden" in text or "invalid" in text.lower()


# In the RuntimeError of a job submitted to a head that has just started and has no job agent yet: worth a
# retry, and told apart from other refusals by its text only.
RAY_JOB_AGENT_NOT_READY = "No available agent"


# Ray: a working directory's upload to a job (ray._private.runtime_env.packaging). Ray lists nothing of what it
# leaves out; the sweep says it before the upload, with Ray's own walk and matching, so the list is what Ray does.

# Set to "1", Ray's upload ignores .gitignore files.
RAY_IGNORE_GITIGNORE_ENV = "RAY_RUNTIME_ENV_IGNORE_GITIGNORE"


def upload_default_excludes() -> list[str]:
    """What Ray leaves out of every upload (``.git``, ``.venv``, …), besides the runtime environment's own."""
    from ray._private import ray_constants

    return list(ray_constants.get_runtime_env_default_excludes())


def upload_exclude_rule(root: Path, patterns: list[str]) -> Callable[[Path], bool]:
    """Ray's matcher of gitwildmatch ``patterns`` against paths under ``root``."""
    from ray._private.runtime_env.packaging import _get_excludes

    return _get_excludes(root, patterns)


def walk_upload(root: Path, rules: list[Callable[[Path], bool]], logger: logging.Logger) -> None:
    """Ray's walk over a working directory: it skips a path any of ``rules`` matches, and adds the rules of
    each folder's ignore files to ``rules`` as it enters the folder (honouring .gitignore as Ray would)."""
    from ray._private.runtime_env.packaging import _dir_travel

    honour_gitignore = os.environ.get(RAY_IGNORE_GITIGNORE_ENV, "0") != "1"
    _dir_travel(root, rules, lambda path: None, include_gitignore=honour_gitignore, logger=logger)


# Ray Tune: its environment switches, read when a run or its controller starts; none has a TuneConfig or
# RunConfig field.

# "1": Tune installs no SIGINT handler of its own, which would take Ctrl-C from the sweep's.
TUNE_SIGINT_ENV = "TUNE_DISABLE_SIGINT_HANDLER"
# "1": Tune adds no CSV, JSON and TensorBoard loggers of its own (the sweep adds the first two itself; Tune's
# TensorBoard logger imports torch in the driver).
TUNE_AUTO_LOGGERS_ENV = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"
# "0": Tune does not log each failed trial's whole traceback (the sweep's line names the trial's error.txt).
TUNE_TRIAL_ERRORS_ENV = "TUNE_PRINT_ALL_TRIAL_ERRORS"
# "0": Tune's earlier output engine, which prints nothing at verbose=0; its current one prints a start-up
# table whatever the verbosity, and is kept with --verbose.
TUNE_NEW_OUTPUT_ENV = "RAY_AIR_NEW_OUTPUT"
# What Tune logs when it stops on a signal, which the sweep's own line replaces (Tune's points at
# Tuner.restore, which does not retrain or report): the logger of ray.tune.tune, and the lines' beginnings.
TUNE_LOGGER = "ray.tune.tune"
TUNE_STOP_LINES = ("Stop signal received", "Experiment has been interrupted", "Trials did not complete")
# Ray Tune's experiment state: a JSON copy next to its pickles, one file per `fit`. Not a public format; the
# reader is sweep.store.tune_state, checked on a file Ray wrote (tests/data/tune_state_ray_2_60).
TUNE_STATE_FILE = re.compile(r"^experiment_state-.*\.json$")


@contextlib.contextmanager
def tune_sigint_handler_disabled() -> Iterator[None]:
    """Tune installs no SIGINT handler inside; the variable is restored after."""
    saved = os.environ.get(TUNE_SIGINT_ENV)
    os.environ[TUNE_SIGINT_ENV] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(TUNE_SIGINT_ENV, None)
        else:
            os.environ[TUNE_SIGINT_ENV] = saved


def tune_stop_handler() -> Callable[[int, Any], None] | None:
    """Tune's graceful stop, while a run is on: the SIGUSR1 handler ``tune.run`` installs for its length,
    which saves the experiment and ends the loop. Tune has no API that asks a running ``fit`` to stop."""
    handler = signal.getsignal(signal.SIGUSR1)
    return handler if callable(handler) else None


def disable_tune_auto_loggers() -> None:
    """No loggers added by Tune (a user's own setting wins)."""
    os.environ.setdefault(TUNE_AUTO_LOGGERS_ENV, "1")


def keep_trial_tracebacks_out() -> None:
    """No whole traceback per failed trial in Tune's log (a user's own setting wins)."""
    os.environ.setdefault(TUNE_TRIAL_ERRORS_ENV, "0")


def use_tune_output_engine(new: bool) -> None:
    """Tune's current output engine (``new``) or its earlier one, for the next ``fit``."""
    os.environ[TUNE_NEW_OUTPUT_ENV] = "1" if new else "0"


def keep_out_of_tune_env_propagation(unwanted: Callable[[str], bool]) -> None:
    """Stop Tune from copying the driver's ``unwanted`` environment variables into each trainable's runtime
    environment. Tune keeps the names in a module-level set of ``ray.tune.execution.class_cache`` (no setting
    names them) and reads it each time it makes a trainable's actor class, so removing names there is enough."""
    from ray.tune.execution import class_cache

    class_cache.ENV_VARS_TO_PROPAGATE = {name for name in class_cache.ENV_VARS_TO_PROPAGATE if not unwanted(name)}


# Ray Tune's Optuna searcher and its asynchronous Hyperband: the state the sweep's subclasses reach into.


def optuna_trial_of(searcher: Any, trial_id: str) -> Any | None:
    """The Optuna trial OptunaSearch asked for the Tune trial ``trial_id`` (None before it did): kept in its
    ``_ot_trials``, with no public getter."""
    return searcher._ot_trials.get(trial_id)


def optuna_distributions_of(searcher: Any) -> dict[str, Any]:
    """The Optuna distributions OptunaSearch built from the search space (its ``_space``), which a trial added
    to the study by hand must carry; OptunaSearch does not expose them."""
    return searcher._space


def hyperband_brackets(scheduler: Any) -> list[Any]:
    """The brackets of Tune's asynchronous Hyperband (``ASHAScheduler._brackets``)."""
    return scheduler._brackets


def bracket_rung_count(bracket: Any) -> int:
    """How many rungs a bracket of Tune's asynchronous Hyperband has (its ``_rungs``)."""
    return len(bracket._rungs)


def place_in_bracket(scheduler: Any, trial_id: str, bracket: Any) -> None:
    """Put a trial in a bracket of Tune's asynchronous Hyperband, as its ``on_trial_add`` does after drawing
    one from numpy's global generator; there is no hook for the draw, so the sweep draws and places it."""
    scheduler._trial_info[trial_id] = bracket


# Optuna.

# The warning Optuna gives for a fixed parameter (the reference defaults' first trial) outside a searched
# range, which the search space allows on purpose; a warnings filter matches it by its text only.
OPTUNA_OUT_OF_RANGE_WARNING = ".*Fixed parameter .* is out of range.*"

# ruamel.yaml: a duplicate key's DuplicateKeyError starts its problem with this text (its type alone covers
# more), which the config loader rewrites into one line naming the key.
YAML_DUPLICATE_KEY = "found duplicate key"


# W&B, read from the environment by wandb (and by Ray's W&B callback) when a run starts.
WANDB_API_KEY_ENV = "WANDB_API_KEY"  # the API key, besides `wandb login`
WANDB_MODE_ENV = "WANDB_MODE"  # online, offline or disabled; Ray's callback asks for a key unless offline
WANDB_DIR_ENV = "WANDB_DIR"  # where the runs are written


def wandb_settings_without_meta() -> Any:
    """Settings for a driver's W&B run without its system metadata, which records this process's command line
    (it may hold a tracking URI with its password). Only an experimental setting turns that off."""
    import wandb

    return wandb.Settings(silent=True, x_disable_meta=True)


def stop_wandb_service() -> None:
    """Stop the service process the driver's W&B runs started (``wandb.teardown``, not in wandb's
    documented API); only where wandb was imported already."""
    if "wandb" in sys.modules:
        sys.modules["wandb"].teardown()


# MLflow: read from the environment on every request; its client takes no credentials or HTTP settings.
MLFLOW_URI_ENV = "MLFLOW_TRACKING_URI"  # the MLflow server configured on this machine
MLFLOW_USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
MLFLOW_PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
MLFLOW_CREDENTIALS = (MLFLOW_USERNAME_ENV, MLFLOW_PASSWORD_ENV, "MLFLOW_TRACKING_TOKEN")  # what it sends
MLFLOW_RETRIES_ENV = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
MLFLOW_TIMEOUT_ENV = "MLFLOW_HTTP_REQUEST_TIMEOUT"


def import_without_torch(name: str) -> Any:
    """Import ``name`` as if torch were not installed, unless torch is imported already. tensorboardX imports
    torch only to name ``torch.Tensor`` in type hints (``try: import torch``), which costs the driver seconds
    of CPU before the first trial; a None entry in ``sys.modules`` makes that import fail, and is removed again
    at once. tensorboardX has no switch for it."""
    import importlib

    if "torch" in sys.modules:
        return importlib.import_module(name)
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        return importlib.import_module(name)
    finally:
        del sys.modules["torch"]


# The libraries' progress bars and thread pools, read when they are imported (before any trial code can call
# their own switches): set before a local Ray starts, whose workers inherit the environment.
QUIET_ENVIRONMENT = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # huggingface_hub's downloads
    "TQDM_DISABLE": "1",  # every tqdm bar: the model card's widget bars
    "TOKENIZERS_PARALLELISM": "false",  # a trial owns its threads; no tokenizer pool
}
