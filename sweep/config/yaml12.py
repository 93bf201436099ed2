"""Config text as YAML 1.2, with duplicate keys refused: how experiment files, ``--set`` values and the
experiment folder's config.yaml are read, and how that config.yaml is written.

PyYAML's ``safe_load`` reads YAML 1.1, where ``1:30`` is the number 90 (base 60), ``1e-5`` is a string
(1.1 floats need a dot), ``yes``/``no``/``on``/``off`` are booleans and ``010`` is 8; and a second
``train:`` silently replaces the first. YAML 1.2 reads ``1:30`` as text, ``1e-5`` as a float and ``010``
as 10, so such a value either means what it says or is refused by the schema with the key named.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.representer import SafeRepresenter

from trainables.internals import YAML_DUPLICATE_KEY


class YamlError(ValueError):
    """Text that is not one YAML 1.2 document of plain data; ``line`` (1-based) where it is known."""

    def __init__(self, problem: str, line: int | None):
        super().__init__(problem)
        self.problem, self.line = problem, line


class _Constructor(SafeConstructor):
    """YAML 1.2's safe constructor, with a lone ``=`` read as the text it is in YAML 1.2: ruamel.yaml keeps
    1.1's "value" type for it, which no constructor builds ("could not determine a constructor")."""


_Constructor.add_constructor("tag:yaml.org,2002:value", SafeConstructor.construct_yaml_str)


class _Representer(SafeRepresenter):
    """Floats as ``5.0e-05``, not ``5e-05``: the same number in YAML 1.2, and still a number to a YAML 1.1
    reader (PyYAML), which takes ``5e-05`` for a string; config.yaml's text, and so its digest, stay as
    PyYAML wrote them before."""

    def represent_float(self, data: float) -> ScalarNode:
        node = super().represent_float(data)
        if "." not in node.value and "e" in node.value:
            node.value = node.value.replace("e", ".0e", 1)
        return node


_Representer.add_representer(float, _Representer.represent_float)


def _yaml() -> YAML:
    # pure=True: without it ruamel.yaml takes its C loader where installed, which reads some YAML 1.1
    # forms (052 as octal 42). The pure loader is YAML 1.2 throughout, and refuses duplicate keys.
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor, yaml.Representer = _Constructor, _Representer
    # config.yaml keeps the sections in the schema's order (ruamel.yaml annotates this setting as None).
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.default_flow_style = False
    return yaml


# A config holds a few hundred values. Aliases let a short text stand for billions of them (each level
# repeating the one before), which validation and the one-line messages would then walk or print.
MAX_VALUES = 100_000


def load(text: str) -> Any:
    """The data in ``text``: mappings, lists, strings, numbers, booleans, None. Raises YamlError."""
    try:
        data = _yaml().load(text)
    except YAMLError as error:
        raise _one_error(error) from None
    except RecursionError:  # the parser recurses once per level of nesting
        raise YamlError("nested too deeply", None) from None
    if _expanded_size(data, {}) > MAX_VALUES:
        raise YamlError(f"more than {MAX_VALUES} values once its aliases (*name) are expanded", None)
    return data


def _expanded_size(node: Any, sizes: dict[int, int]) -> int:
    """Values in ``node`` counting every alias as a copy; each shared node is counted once (``sizes``)."""
    if not isinstance(node, (dict, list)):
        return 1
    if id(node) not in sizes:
        sizes[id(node)] = 0  # a list that holds itself (`&a [*a]`) counts as one value, not for ever
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[id(node)]


def dump(data: Any) -> str:
    """``data`` as YAML 1.2 text that ``load`` reads back the same (strings that would read as numbers,
    such as ``1e5`` or ``0o17``, are quoted, as a YAML 1.1 writer would not)."""
    stream = io.StringIO()
    _yaml().dump(data, stream)
    return stream.getvalue()


def _one_error(error: YAMLError) -> YamlError:
    if not isinstance(error, MarkedYAMLError):
        return YamlError(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__, None)
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or type(error).__name__
    if problem.startswith(YAML_DUPLICATE_KEY):
        # ruamel.yaml's text goes on with both values and a how-to for its own switch; the key is the point.
        key = problem.split('"')[1] if problem.count('"') >= 2 else ""
        problem = f"duplicate key {key!r}: a key may appear once in a mapping (a second one would replace the first)"
    return YamlError(problem, mark.line + 1 if mark is not None else None)
