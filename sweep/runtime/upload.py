"""What a Ray job's working directory upload holds (``sweep run --address http://…``), and what it leaves out.

Ray packs the folder itself, honouring ``.gitignore``, ``.rayignore``, its default excludes (``.git``,
``.venv``, …) and the runtime environment's ``excludes``. Files that hold secrets have no business on a
cluster, whose every node unpacks the package into its temporary folder, so they are excluded by name
whatever the ignore files say. What is left out is listed with Ray's own matching, so the list is what
Ray does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from trainables.internals import upload_default_excludes, upload_exclude_rule, walk_upload

# gitwildmatch patterns, as in a .gitignore: a name without a slash matches at any depth (a folder's name
# without its trailing slash, so that Ray skips the folder whole, and it is listed as one).
SECRET_FILES = (
    ".env*",  # .env, .env.local, .envrc: variables for a shell or a framework
    ".aws",
    ".ssh",
    ".gnupg",
    ".ray",  # Ray's own token (~/.ray/auth_token) when the folder is a home
    ".netrc",  # wandb login and other clients keep their keys here
    ".pgpass",
    ".git-credentials",
    ".pypirc",
    "credentials",
    "credentials.json",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
)
# Ray logs each ignore file it reads; what is left out is said once, by this module.
_QUIET = logging.getLogger("sweep.upload.ray")
_QUIET.disabled = True


def runtime_env(working_dir: Path | str) -> dict[str, Any]:
    """The job's runtime environment: ``working_dir`` without the files that may hold secrets."""
    return {"working_dir": str(working_dir), "excludes": list(SECRET_FILES)}


def left_out(working_dir: Path | str) -> list[str]:
    """What the upload of ``working_dir`` leaves out, relative to it, as Ray decides: the topmost path of
    each part left out, a folder with a trailing ``/``, sorted."""
    root = Path(working_dir).absolute()
    excludes = [*upload_default_excludes(), *SECRET_FILES]
    skipped: list[Path] = []
    rules: list = []

    def recorded(path: Path) -> bool:
        # Ray's walk asks every rule in this list whether to skip a path, adding the rules of each folder's
        # ignore files to the list as it enters it: this first rule asks the others and notes the answer.
        if any(rule(path) for rule in rules[1:]):
            skipped.append(path)
            return True
        return False

    rules.extend([recorded, upload_exclude_rule(root, excludes)])
    walk_upload(root, rules, _QUIET)
    return sorted(str(path.relative_to(root)) + ("/" if path.is_dir() else "") for path in skipped)


def left_out_line(paths: list[str], shown: int = 12) -> str:
    """One line saying what the upload leaves out, the first ``shown`` of them by name."""
    named = ", ".join(paths[:shown]) + (f" and {len(paths) - shown} more" if len(paths) > shown else "")
    return (
        f"the job's working directory leaves out {len(paths)} path(s) that may hold secrets or that "
        f".gitignore / .rayignore name: {named}"
    )
