"""A package's public names, imported from their modules on first use.

Every package under ``sweep`` states its public API as a table of names and the module that holds each,
and imports nothing until a name is asked for: ``python -m sweep --help`` then loads neither Ray nor
torch, and importing one light module of a package does not pull in its heavy siblings.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def exports(
    package: str, names: dict[str, str], modules: tuple[str, ...] = ()
) -> tuple[list[str], Callable[[str], Any]]:
    """The ``__all__`` and ``__getattr__`` of ``package``: each name of ``names`` from its module (a name
    relative to the package), and each of ``modules``, the package's modules that others use whole."""

    def __getattr__(name: str) -> Any:
        if name in modules:
            return importlib.import_module(f"{package}.{name}")
        module = names.get(name)
        if module is None:
            # A submodule asked for by `from package import module` is then imported by Python itself.
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return sorted([*names, *modules]), __getattr__
