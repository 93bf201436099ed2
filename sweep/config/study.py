"""The ``search.storage`` setting, checked before anything starts: a journal file (any path) or a database URL
(``sqlite:///…``, ``postgresql://…``, anything SQLAlchemy parses), made absolute so that a resume from
elsewhere opens the same study, and shown with any password hidden.

A password in a URL is refused rather than redacted: the config is written to config.yaml and Ray
pickles the searcher into the folder, and a resume needs the same URL again. Drivers have their own
password sources (``PGPASSWORD`` or ``~/.pgpass`` for PostgreSQL, option files for MySQL).
"""

from __future__ import annotations

from pathlib import Path

from trainables.errors import InputError

_SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "secret", "token")


def is_url(storage: str) -> bool:
    """Whether ``search.storage`` names a database (``scheme://…``) rather than a journal file."""
    return "://" in storage


def check_storage(storage: str) -> str:
    """``search.storage`` as given, if it can be written to config.yaml; InputError otherwise."""
    if not storage.strip():
        raise InputError("search.storage: empty; give a journal file path or a database URL, or leave it null")
    if not is_url(storage):
        return storage
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(storage)
    except (ArgumentError, ValueError):
        scheme = storage.split("://", 1)[0]
        raise InputError(f"search.storage: not a database URL ({scheme}://…); e.g. sqlite:///study.db") from None
    secret = url.password is not None or any(key.lower() in _SECRET_QUERY_KEYS for key in url.query)
    if secret:
        raise InputError(
            f"search.storage: {redacted(storage)} carries a password, which would be written to config.yaml; "
            "leave it out and let the driver find it (PGPASSWORD or ~/.pgpass for PostgreSQL)"
        )
    return storage


def resolved(storage: str | None) -> str | None:
    """A journal path or an SQLite file made absolute (relative ones are relative to the working
    directory), so that a resume from elsewhere opens the same study."""
    if storage is None:
        return None
    if not is_url(storage):
        return str(Path(storage).expanduser().resolve())
    from sqlalchemy.engine import make_url

    url = make_url(storage)
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        url = url.set(database=str(Path(database).expanduser().resolve()))
        return url.render_as_string(hide_password=False)
    return storage


def redacted(storage: str) -> str:
    """``storage`` safe to print: a URL's password (and any password-like query value) hidden."""
    if not is_url(storage):
        return storage
    from sqlalchemy.engine import make_url

    try:
        url = make_url(storage)
        query = {key: "***" if key.lower() in _SECRET_QUERY_KEYS else value for key, value in url.query.items()}
        return url.set(query=query).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse is shown by its scheme only
        return storage.split("://", 1)[0] + "://…"
