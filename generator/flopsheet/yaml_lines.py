"""YAML loading that remembers the line of every mapping and key, for error messages.

Aliases are rejected: a few nested aliases can expand to billions of nodes
(the "billion laughs" attack), and specs have block definitions for reuse.
"""

from __future__ import annotations

import yaml

MAX_DEPTH = 50
# Excel's numbers end near 1E+308; Python also refuses to convert integers of more than 4300 digits.
MAX_INTEGER_LENGTH = 400


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
                raise YamlError(mark.line + 1, f"YAML nested deeper than {MAX_DEPTH} levels: "
                                               "a spec needs only a few levels, so remove the extra nesting")
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
            raise YamlError(line, f"mapping key {key!r} is not a plain name: use a name or a number as the key")
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


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    if len(node.value) > MAX_INTEGER_LENGTH:
        raise YamlError(node.start_mark.line + 1,
                        f"a number of {len(node.value)} characters is too long: Excel's numbers end "
                        "near 1E+308, so write a smaller number")
    return loader.construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _fast_loader():
    """Return _Loader's composer and constructors over libyaml's C parser, or None without libyaml.

    The C parser reads the text several times faster than PyYAML's Python scanner
    and parser, and the Python composer above it keeps the alias and depth checks.
    """
    try:
        from yaml._yaml import CParser
    except ImportError:
        return None

    class FastLoader(CParser, _Loader):
        # CParser composes nodes in C; these Python methods compose them from its events instead.
        get_single_node = yaml.composer.Composer.get_single_node
        compose_document = yaml.composer.Composer.compose_document
        check_node = yaml.composer.Composer.check_node
        get_node = yaml.composer.Composer.get_node

        def __init__(self, stream):
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    return FastLoader


_FastLoader = _fast_loader()


def load(text: str):
    """Parse one YAML document into LineDict, LineList and plain scalars."""
    if _FastLoader is not None:
        try:
            return yaml.load(text, Loader=_FastLoader)  # noqa: S506 - the constructors are _Loader's
        except Exception:  # noqa: BLE001 - the Python loader below raises the error with its message
            pass
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        # At the end of the file PyYAML points past the last line; name the last line instead.
        line = min(mark.line + 1, max(len(text.splitlines()), 1)) if mark else None
        raise YamlError(line, f"invalid YAML: {_describe(error)}") from error
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise YamlError(line, f"invalid YAML: the character U+{error.character:04X} is not "
                              "allowed in YAML: remove it") from error
    except yaml.YAMLError as error:
        raise YamlError(None, f"invalid YAML: {error}") from error


def _describe(error: yaml.MarkedYAMLError) -> str:
    """Return what PyYAML found wrong, with how to fix it."""
    problem = error.problem or str(error)
    if error.context and problem.startswith("but "):
        problem = f"{error.context}, {problem}"
    if isinstance(error, yaml.constructor.ConstructorError):
        return f"{problem}: remove the tag, as specs hold plain values"
    if "another document" in problem:
        return f"{problem}: keep one spec per file and remove the second '---' document"
    return f"{problem}: check the indentation (spaces, not tabs), brackets and quotes on this line"


def node_at(document, path: tuple):
    """Return the node at ``path`` (keys and list indexes), or None when it does not exist."""
    node = document
    for step in path:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return None
    return node


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
