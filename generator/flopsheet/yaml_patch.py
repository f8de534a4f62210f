"""Editing YAML text in place: replace scalars and add keys, leaving every other character as it was.

ruamel.yaml composes the text into nodes that know their start and end
offsets. A plan of replacements and additions is rendered as text patches at
those offsets, so comments, quoting, flow style and line wrapping survive
everywhere except in the values that change. A round-trip dump would re-wrap
every long flow mapping instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

NodePath = tuple  # keys and list indexes from the root


def compose(text: str) -> Node:
    """Return the root node of a YAML document."""
    return YAML(typ="rt").compose(text)


def child(node: Node | None, step) -> Node | None:
    """Return a mapping's value for a key, or a sequence's item, or None."""
    if isinstance(node, MappingNode) and isinstance(step, str):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == step:
                return value
        return None
    if isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node.value[step]
    return None


def node_at(root: Node, path: NodePath) -> Node | None:
    """Return the node at ``path``, or None where a step is missing."""
    node = root
    for step in path:
        node = child(node, step)
        if node is None:
            return None
    return node


def source(text: str, node: Node) -> str:
    """Return a node's text as written."""
    return text[node.start_mark.index:node.end_mark.index]


def scalar_value(node: Node | None):
    """Return a scalar node as int, float or str (YAML 1.2 core types), None for no scalar."""
    if not isinstance(node, ScalarNode):
        return None
    if node.tag.endswith(":int"):
        try:
            return int(node.value.replace("_", ""), 0)
        except ValueError:
            return node.value
    if node.tag.endswith(":float"):
        try:
            return float(node.value.replace("_", ""))
        except ValueError:
            return node.value
    if node.tag.endswith(":bool"):
        return node.value.lower() == "true"
    return node.value


def number_text(value: Fraction) -> str:
    """Write a number so that flopsheet reads back exactly ``value``.

    Integers and fractions with a power-of-two denominator (0.5, 0.375) are exact
    YAML floats; any other fraction is written as a quoted expression such as "1/3".
    """
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    if value.denominator & (value.denominator - 1) == 0:
        return repr(float(value))
    return f'"{value.numerator}/{value.denominator}"'


def _content_end(node: Node) -> int:
    """Return the offset just after a node's last character, before trailing blank lines and comments."""
    if isinstance(node, ScalarNode) or getattr(node, "flow_style", False):
        return node.end_mark.index
    if isinstance(node, MappingNode) and node.value:
        key, value = node.value[-1]
        return max(_content_end(key), _content_end(value))
    if isinstance(node, SequenceNode) and node.value:
        return _content_end(node.value[-1])
    return node.end_mark.index


@dataclass
class Plan:
    """Replacements of existing values and new keys, rendered together by ``apply``.

    A value is addressed by the path of its mapping and its key. ``component`` 0
    or 1 addresses the height or width of a ``[height, width]`` pair.
    """

    # (mapping path, key) -> {component or None: text}
    values: dict[tuple[NodePath, str], dict[int | None, str]] = field(default_factory=dict)

    def set(self, mapping: NodePath, key: str, text: str, component: int | None = None) -> None:
        self.values.setdefault((tuple(mapping), key), {})[component] = text

    def __bool__(self) -> bool:
        return bool(self.values)


def value_text(text: str, node: Node | None, parts: dict[int | None, str], fill: tuple[str, str] | None) -> str:
    """Return the new text of one value: whole, or a pair with one or both components replaced.

    ``fill`` gives the text of the components that ``parts`` leaves as they are,
    when the value is a scalar (or missing) that becomes a pair.
    """
    if None in parts:
        return parts[None]
    if isinstance(node, SequenceNode):
        items = [parts.get(i, source(text, item)) for i, item in enumerate(node.value)]
    else:
        items = [parts.get(i, fill[i] if fill else "") for i in (0, 1)]
    return "[" + ", ".join(items) + "]"


def apply(text: str, root: Node, plan: Plan, fills: dict[tuple[NodePath, str], tuple[str, str]]) -> str:
    """Return ``text`` with the plan's values written: existing values replaced, new keys added.

    ``fills`` gives, for pair values that are scalars or missing, the text of each
    component that stays. A mapping that does not exist yet is added to its
    parent as a flow mapping ``{key: value, ...}``.
    """
    patches: list[tuple[int, int, str]] = []
    additions: dict[NodePath, list[tuple[str, str]]] = {}
    for (mapping_path, key), parts in plan.values.items():
        mapping = node_at(root, mapping_path)
        node = child(mapping, key)
        new = value_text(text, node, parts, fills.get((mapping_path, key)))
        if node is not None and isinstance(node, SequenceNode) and None not in parts:
            for index, item in enumerate(node.value):
                if index in parts:
                    patches.append((item.start_mark.index, item.end_mark.index, parts[index]))
        elif node is not None:
            patches.append((node.start_mark.index, node.end_mark.index, new))
        else:
            additions.setdefault(mapping_path, []).append((key, new))

    # A new key of a mapping that does not exist yet goes into a flow mapping added to the parent.
    for mapping_path in sorted((p for p in additions if node_at(root, p) is None), key=len, reverse=True):
        pairs = additions.pop(mapping_path)
        flow = "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
        parent = mapping_path[:-1]
        additions.setdefault(parent, []).append((mapping_path[-1], flow))
        if node_at(root, parent) is None:
            raise ValueError(f"no mapping at {parent} to add {mapping_path[-1]!r} to")

    for mapping_path, pairs in additions.items():
        patches.append(_insertion(text, node_at(root, mapping_path), pairs))
    return _patched(text, patches)


def _insertion(text: str, mapping: MappingNode, pairs: list[tuple[str, str]]) -> tuple[int, int, str]:
    """Return the patch that adds ``pairs`` after a mapping's last key."""
    if getattr(mapping, "flow_style", False):
        rendered = ", ".join(f"{k}: {v}" for k, v in pairs)
        if not mapping.value:
            position = mapping.start_mark.index + 1  # just inside "{"
            return position, position, rendered
        position = _content_end(mapping.value[-1][1])
        return position, position, ", " + rendered
    column = mapping.value[0][0].start_mark.column if mapping.value else 0
    position = _content_end(mapping)
    line_end = text.find("\n", position)
    position = len(text) if line_end < 0 else line_end
    rendered = "".join(f"\n{' ' * column}{k}: {v}" for k, v in pairs)
    return position, position, rendered


def _patched(text: str, patches: list[tuple[int, int, str]]) -> str:
    ordered = sorted(patches, key=lambda patch: (patch[0], patch[1]))
    for before, after in zip(ordered, ordered[1:]):
        if after[0] < before[1]:
            raise ValueError(f"overlapping edits at offsets {before[0]} and {after[0]}")
    pieces = []
    position = 0
    for start, end, new in ordered:
        pieces.append(text[position:start])
        pieces.append(new)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def insert_section(text: str, root: MappingNode, key: str, pairs: list[tuple[str, str]],
                   before: list[str]) -> str:
    """Add a top-level block mapping ``key:`` with ``pairs``, above the first of the keys ``before``.

    The section goes above the comment lines that lead into that key, so the
    comments stay with the key they describe.
    """
    body = f"{key}:\n" + "".join(f"  {k}: {v}\n" for k, v in pairs)
    keys = {k.value: k for k, _ in root.value if isinstance(k, ScalarNode)}
    following = next((keys[name] for name in before if name in keys), None)
    if following is None:
        separator = "" if text.endswith("\n") or not text else "\n"
        return text + separator + "\n" + body
    lines = text[:following.start_mark.index].split("\n")
    # lines[-1] is the indentation before the key (empty at the top level).
    index = len(lines) - 1
    while index > 0 and lines[index - 1].lstrip().startswith("#"):
        index -= 1
    offset = sum(len(line) + 1 for line in lines[:index])
    return text[:offset] + body + "\n" + text[offset:]
