"""YAML loading that remembers the line of every mapping and key, for error messages.

Aliases are rejected: a few nested aliases can expand to billions of nodes
(the "billion laughs" attack), and specs have block definitions for reuse.
"""

from __future__ import annotations

import yaml

MAX_DEPTH = 50


class LineDict(dict):
    """A YAML mapping with the line of the mapping and of each of its keys."""

    line: int = 0
    key_lines: dict


class LineList(list):
    """A YAML sequence with the line of each of its items."""

    line: int = 0
    item_lines: list


class YamlError(ValueError):
    """A YAML document that cannot be read, with the line where reading failed."""

    def __init__(self, line: int | None, message: str):
        self.line = line
        super().__init__(message)


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise YamlError(event.start_mark.line + 1,
                            f"YAML alias *{event.anchor} is not supported: "
                            "write the value out, or define a block and use it")
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlError(mark.line + 1, f"YAML nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)) or key is None:
            raise YamlError(line, f"mapping key {key!r} is not a plain name")
        if key in mapping:
            raise YamlError(line, f"duplicate key {key!r} (first at line {mapping.key_lines[key]}): "
                                  "remove one of them")
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    items = LineList(loader.construct_object(child, deep=True) for child in node.value)
    items.line = node.start_mark.line + 1
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    return items


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load(text: str):
    """Parse one YAML document into LineDict, LineList and plain scalars."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(line, f"invalid YAML: {error.problem or error}") from error
    except yaml.YAMLError as error:
        raise YamlError(None, f"invalid YAML: {error}") from error


def line_of(document, path: tuple) -> int | None:
    """Return the line of the deepest node on ``path`` (keys and list indexes) that exists."""
    node, line = document, getattr(document, "line", None)
    for step in path:
        if isinstance(node, LineDict) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
        line = getattr(node, "line", None) or line
    return line
