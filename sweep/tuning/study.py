"""Where the sweep's Optuna study is kept, so that ``optuna.load_study`` and ``optuna-dashboard`` open it
during and after a sweep, and ``sweep resume`` goes on with the same study.

``search.storage`` names a journal file (any path) or a database URL (``sqlite:///…``,
``postgresql://…``, anything SQLAlchemy opens). Left null, the study is a journal file inside the
experiment folder; a folder behind a URI (``s3://…``) cannot hold one (Optuna writes journals with local
file locks), so there the study stays in the driver's memory unless ``search.storage`` names one.

The setting itself is checked in ``sweep.config.study``, before the study is opened here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from sweep.config.study import is_url, redacted
from trainables.errors import InputError

log = logging.getLogger("sweep")

RAY_TRIAL_ID = "ray_trial_id"  # the user attribute that ties an Optuna trial to its Ray Tune trial


def open_storage(storage: str) -> BaseStorage:
    """Optuna's storage for ``search.storage``: a journal file (created if missing) or a database (its
    tables created if missing). InputError, naming the key, when it cannot be opened."""
    shown = redacted(storage)
    if not is_url(storage):
        path = Path(storage)
        if path.is_dir():
            raise InputError(f"search.storage: {shown} is a folder; give a journal file path")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab"):  # what Optuna's backend does first, checked here to name the key
                pass
        except OSError as error:
            raise InputError(f"search.storage: cannot write the journal {shown} ({error.strerror or error})") from None
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        # A line that is not one of Optuna's: it replays the journal as it opens it, and asserts on an
        # operation it does not know.
        except (ValueError, KeyError, TypeError, IndexError, AssertionError) as error:
            raise InputError(
                f"{shown}: damaged, not an Optuna journal ({error.__class__.__name__}: {error}); nothing rebuilds "
                "it: move it away, and `sweep resume` tells a fresh study the finished trials"
            ) from None
    try:
        return RDBStorage(storage)
    except ImportError as error:
        # Optuna re-raises SQLAlchemy's import of the driver with a generic message; the cause names it.
        driver = getattr(error.__cause__, "name", None) or error.name or "its dialect names"
        raise InputError(f"search.storage: {shown} needs the database driver {driver}, not installed") from None
    except Exception as error:  # SQLAlchemy's errors for an unreachable or unusable database
        reason = str(error).splitlines()[0] if str(error) else error.__class__.__name__
        raise InputError(f"search.storage: cannot open {shown} ({reason.replace(storage, shown)})") from None


def study_storage(storage: str | None, journal: Path | None, folder: str) -> BaseStorage | None:
    """Where the study of the sweep in ``folder`` is kept: ``search.storage`` when given, else the folder's
    ``journal``; None (in memory) for a folder behind a URI, which cannot hold a journal."""
    if storage is not None:
        return open_storage(storage)
    if journal is None:
        log.info(
            "the Optuna study stays in memory: %s is behind a URI, where no journal file can be written; "
            "set search.storage to keep it",
            folder,
        )
        return None
    return open_storage(str(journal))


def study_exists(storage: BaseStorage, study_name: str) -> bool:
    """Whether ``storage`` holds a study named ``study_name``."""
    return any(summary.study_name == study_name for summary in optuna.get_all_study_summaries(storage))
