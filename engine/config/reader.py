"""The YAML of config files: PyYAML's safe loader, with bounded work and nothing dropped.

Four differences from ``yaml.safe_load``, each a case that used to blow up or pass
silently:

- anchors, aliases and merge keys (``&base``, ``*base``, ``<<:``) are refused: a file
  of 600 bytes that nests aliases expands to billions of items. ``extends:`` is how
  files share settings.
- nesting deeper than `MAX_DEPTH` levels is refused; a real config nests about six.
- a key written twice in one mapping is refused, naming both lines; YAML would keep
  the second and drop the first without a word.
- scalars follow YAML 1.2 where 1.1 surprises: numbers in exponent notation (``1e-4``,
  ``1E5``, ``.5e3``) are floats, not strings, and only ``true`` and ``false`` are
  booleans, so the tickers ``ON``, ``Y`` and ``NO`` stay tickers (a boolean setting
  still takes ``yes`` and ``no``: the schema reads them). A date that does not exist
  (``2021-02-30``) stays a string, for the schema to reject with its YAML path.

A refusal is a `yaml.MarkedYAMLError`, so it reports its line like a syntax error.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

__all__ = ["MAX_DEPTH", "read_yaml"]

MAX_DEPTH = 50

# YAML 1.2's floats with an exponent; YAML 1.1 takes only a dot and a signed exponent
EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
MERGE_TAG = "tag:yaml.org,2002:merge"
NO_ANCHORS = (
    "anchors and aliases (&name, *name, <<:) are not supported in config files; write "
    "the values out, or share settings between files with extends:"
)


class _ConfigLoader(yaml.SafeLoader):
    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ComposerError(None, None, NO_ANCHORS, event.start_mark)
        if self.depth >= MAX_DEPTH:
            raise ComposerError(
                None,
                None,
                f"nested more than {MAX_DEPTH} levels deep; settings nest a few levels "
                "(portfolio.costs.HKD.fees.rate is five)",
                event.start_mark,
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self.depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                raise ConstructorError(None, None, NO_ANCHORS, key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            try:
                line = first_line.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: the base class says so
                continue
            if line != key_node.start_mark.line + 1:
                raise ConstructorError(
                    None,
                    None,
                    f"key {key!r} is written twice, on lines {line} and "
                    f"{key_node.start_mark.line + 1}; YAML would keep only the second: "
                    "write it once",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]

    def construct_timestamp_or_text(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError:  # 2021-02-30: the schema names the setting and the value
            return self.construct_scalar(node)


BOOL_TAG = "tag:yaml.org,2002:bool"
_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(
    BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", EXPONENT_FLOAT, list("-+.0123456789")
)
_ConfigLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _ConfigLoader.construct_timestamp_or_text
)


def read_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document in the config dialect; return its value and its node.

    The node gives each value's line (`engine.config.loader`). An empty document is
    ``(None, None)``.

    Raises
    ------
    yaml.YAMLError
        For invalid YAML, and for anchors, aliases, merge keys, nesting deeper than
        `MAX_DEPTH` and a key written twice; a `yaml.MarkedYAMLError` has the line.
    """
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        return (None if node is None else loader.construct_document(node)), node
    finally:
        loader.dispose()
