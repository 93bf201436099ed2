"""The tree's architecture, checked: packages in one order with no import running back up, no import cycle
between modules (benchmarks included), each package's public names declared, and the README's layout table
made of the packages' own descriptions."""

from __future__ import annotations

import ast
import functools
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lowest first: a package may import from the packages before it, never from those after.
ORDER = ("config", "store", "runtime", "tracking", "monitor", "report", "tuning", "simulate", "workflow")
TOP_LEVEL = ("sweep", "trainables", "benchmarks")


def _modules() -> dict[str, Path]:
    found = {}
    for top in TOP_LEVEL:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


@functools.cache
def _public(package: str) -> dict[str, str]:
    """``package``'s ``_PUBLIC`` table (empty where it has none): each public name and its module."""
    tree = ast.parse(MODULES[package].read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_PUBLIC" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _exported(package: str, name: str) -> str | None:
    """The module holding ``package``'s public ``name``."""
    module = _public(package).get(name)
    return f"{package}.{module}" if module else None


def _imports(module: str, typing_only: bool = True) -> list[tuple[str, str | None]]:
    """(imported module, imported name or None) for every import in ``module``, local ones included, and
    those under ``if TYPE_CHECKING:`` unless ``typing_only`` is false."""
    tree = ast.parse(MODULES[module].read_text())
    if not typing_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                node.body = []
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, alias.name) for alias in node.names]
    return found


def _edges(module: str, typing_only: bool = True) -> set[str]:
    """The project modules ``module`` imports, each name resolved to the module that defines it."""
    targets = set()
    for imported, name in _imports(module, typing_only):
        if name is not None and f"{imported}.{name}" in MODULES:
            targets.add(f"{imported}.{name}")
        elif imported in MODULES:
            resolved = _exported(imported, name) if name and MODULES[imported].name == "__init__.py" else None
            targets.add(resolved or imported)
    return targets - {module}


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "sweep" and len(parts) > 2 else None


def test_no_module_imports_one_that_imports_it_back():
    # An import for type hints only runs in no process; a module may name in its hints a class of a module
    # that imports it (sweep.config.arms takes an ExperimentConfig). Every other import counts.
    graph = {module: _edges(module, typing_only=False) for module in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_every_package_is_in_the_order_and_imports_only_those_below_it():
    packages = {path.parent.name for path in (ROOT / "sweep").glob("*/__init__.py")}
    assert packages == set(ORDER), (
        "a package is missing from ORDER (and so from the README), or ORDER names one that is gone"
    )
    upward = []
    for module in MODULES:
        source = _package(module)
        for target in _edges(module):
            if module.startswith("trainables") and target.startswith("sweep"):
                upward.append(f"{module} -> {target} (trainables runs in a trial, below the sweep)")
            dest = _package(target)
            if source and dest and ORDER.index(dest) > ORDER.index(source):
                upward.append(f"{module} -> {target}")
    assert not upward, "\n".join(upward)


def test_every_import_from_another_package_uses_a_name_it_declares_public():
    undeclared = []
    for module in MODULES:
        if module.startswith("tests"):
            continue
        for imported, name in _imports(module):
            parts = imported.split(".")
            if parts[0] != "sweep" or len(parts) < 2 or parts[1] not in ORDER or _package(module) == parts[1]:
                continue
            # `from sweep.P.M import N` and `from sweep.P import N` ask for N; `import sweep.P.M` for module M.
            asked = name if name is not None else (parts[2] if len(parts) > 2 else None)
            if asked is not None and asked not in importlib.import_module(f"sweep.{parts[1]}").__all__:
                undeclared.append(f"{module}: {asked} (from {imported}) is not in sweep.{parts[1]}.__all__")
    assert not undeclared, "\n".join(undeclared)


@pytest.mark.parametrize("package", ORDER)
def test_every_public_name_of_a_package_is_there(package):
    module = importlib.import_module(f"sweep.{package}")
    for name in module.__all__:
        getattr(module, name)  # an AttributeError where the table names a module that lacks the name


@pytest.mark.parametrize(
    ("packages", "absent"),
    [
        # Checking a config costs no start-up: `sweep run` refuses a bad file in a moment.
        (("config",), ("ray", "optuna", "pandas", "torch")),
        # `sweep report` and `sweep status` work on a folder copied to a machine without a cluster.
        (("store", "report"), ("ray", "torch")),
    ],
)
def test_the_lower_packages_load_no_heavy_library(packages, absent):
    modules = [name for name in MODULES if _package(name) in packages]
    code = f"import sys; import {', '.join(modules)}; print(sorted(m for m in {absent!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"


def _row(package: Path) -> str:
    """A package's row of the README's layout table: its docstring's first paragraph, then its modules."""
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    modules = ", ".join(f"`{path.stem}`" for path in sorted(package.glob("*.py")) if path.stem != "__init__")
    return (
        f"| `{package.relative_to(ROOT)}/` | {' '.join(docstring.split(chr(10) * 2)[0].split())} Modules: {modules}. |"
    )


def test_the_readme_layout_table_is_one_row_per_package_with_its_own_description_and_modules():
    readme = (ROOT / "README.md").read_text().splitlines()
    shown = [line for line in readme if re.match(r"\| `(sweep/[a-z_]+|trainables)/` \|", line)]
    packages = [*(ROOT / "sweep" / package for package in ORDER), ROOT / "trainables"]  # lowest first
    expected = [_row(package) for package in packages]
    assert shown == expected, "the README's layout rows should read:\n" + "\n".join(expected)
