"""Exporting an edited workbook as a spec: the workbook's values become the spec's values.

The export starts from the spec text the workbook carries and changes only the
values that differ, in place (flopsheet.yaml_patch), so comments, key order and
formatting stay. With nothing edited the text comes out unchanged, and building
it gives a byte-identical workbook.

Where a value goes:

- inputs and conventions: their defaults under ``inputs:`` and ``conventions:``
  (sections and keys are added when missing);
- a layer's C_out and hyperparameters: the layer's own field (``out_channels``,
  ``out_features`` or ``channels``, ``kernel``, ``stride``, ...). A pair field
  such as ``kernel: 3`` becomes ``[5, 3]`` when only the height changes.

A layer that comes from a block use shares its fields with every use of the
block. When every use gets the same value, the value goes into the block
definition. Otherwise, if the field is a bare block parameter (``out_channels:
channels``), the value goes into each use's ``with:``, provided the other
layers that read the parameter keep their workbook values. Failing that, the
field gets a parameter of its own (``conv_2_out_channels``), with the
original value as its default and each use's value in its ``with:``. Nested
blocks repeat these steps one level up. The fields ``bias``, ``ceil_mode`` and
``flatten`` cannot take a parameter, so such an edit that differs between uses
is reported as not expressible.

Every step is checked by loading the new text and comparing each layer with
the workbook, so an edit is either written exactly or reported with its cell.
Cells typed over a formula (``Layer.fixed_values``) have no place in a spec:
the export reports them, or with ``drop_typed_values`` leaves them out.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from . import conventions as conventions_module
from . import expr
from .errors import OutputError, Problem, SpecError
from .load import load_text
from .network import Network
from .presets import PRESETS, preset_values
from .readback import EditedWorkbook
from .yaml_patch import NodePath, Plan, apply, child, compose, insert_section, node_at, number_text, \
    scalar_value, source

POOLING = ("max_pool2d", "avg_pool2d")
CHANNEL_FIELDS = {"conv2d": "out_channels", "conv_transpose2d": "out_channels", "linear": "out_features",
                  "input": "channels", "feedback": "channels"}
# Layer table column -> (spec field, 0 for the height or 1 for the width of a pair, None for one value).
COLUMN_FIELDS: dict[str, tuple[str, int | None]] = {
    "k_h": ("kernel", 0), "k_w": ("kernel", 1),
    "stride_h": ("stride", 0), "stride_w": ("stride", 1),
    "pad_h": ("padding", 0), "pad_w": ("padding", 1),
    "dilation_h": ("dilation", 0), "dilation_w": ("dilation", 1),
    "out_pad_h": ("output_padding", 0), "out_pad_w": ("output_padding", 1),
    "scale_h": ("scale", 0), "scale_w": ("scale", 1),
    "out_h": ("output_size", 0), "out_w": ("output_size", 1),
    "groups": ("groups", None), "ceil_mode": ("ceil_mode", None), "bias": ("bias", None),
    "flatten": ("flatten", None), "Repeat": ("repeat", None),
}
PAIR_COLUMNS = {field: (height, width) for height, (field, part) in COLUMN_FIELDS.items() if part == 0
                for width, (other, part_w) in COLUMN_FIELDS.items() if other == field and part_w == 1}
BOOLEAN_FIELDS = ("bias", "ceil_mode", "flatten")
# Values of fields a spec may leave out; pooling's stride defaults to its kernel instead.
FIELD_DEFAULTS = {"stride": "1", "padding": "0", "dilation": "1", "output_padding": "0", "groups": "1"}
SECTION_ORDER = ("model", "shape_mode", "inputs", "conventions", "blocks", "layers", "claims")
# An edit is tried first through existing block parameters, then by giving the field a parameter of its own.
MODES = ("with", "split")


@dataclass(frozen=True)
class ExportedSpec:
    """The spec text to write, and notes on how block definitions changed or what was left out."""

    text: str
    notes: tuple[Problem, ...]


def export_spec(edited: EditedWorkbook, drop_typed_values: bool = False) -> ExportedSpec:
    """Return the spec text that states the workbook's values; raise SpecError for edits a spec cannot hold."""
    notes: list[Problem] = []
    typed = [(layer, column, value) for layer in edited.network.layers
             for column, value in layer.fixed_values.items()]
    if typed and not drop_typed_values:
        raise SpecError([Problem(edited.cell_where(layer.name, column), (
            f"{column} of layer {layer.name!r} was typed over with {_show(value)}: a spec states the layers' "
            "hyperparameters, not computed values, so this cannot be exported. Restore the formula (or change "
            "the layer's channels, kernel, stride or padding instead), or pass --drop-typed-values to export "
            "the spec with the cell computed by its rule")) for layer, column, value in typed])
    for layer, column, value in typed:
        notes.append(Problem(edited.cell_where(layer.name, column),
                             f"left out: {column} of layer {layer.name!r} typed as {_show(value)}; the "
                             "exported spec computes it by its rule"))

    path = edited.original.path
    with _quiet_loader():
        text = _write_inputs(edited.original.text, edited)
        text = _write_conventions(text, edited, path)
        text, layer_notes, unresolved = _LayerWriter(text, edited).run()
        notes.extend(layer_notes)
        if unresolved:
            raise SpecError(unresolved)
        final = load_text(text, path)
    _verify(final, edited)
    return ExportedSpec(text, tuple(notes))


def write_spec_file(text: str, path: Path) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a failed write leaves the old file."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: the folder {folder} does not exist: create it or choose another path")
    try:
        handle, temporary = tempfile.mkstemp(prefix=".flopsheet-", suffix=".yaml", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        raise OutputError(f"{path}: cannot write the spec: {error.strerror}") from None


@contextmanager
def _quiet_loader():
    """Silence the loader's warnings while intermediate texts load: the workbook's spec showed them once."""
    logger = logging.getLogger("flopsheet.load")
    disabled = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = disabled


def _show(value) -> str:
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


# Inputs and conventions.

def _write_inputs(text: str, edited: EditedWorkbook) -> str:
    old = edited.original.input_defaults()
    changed = [(p.name, p.default) for p in edited.network.inputs if p.default != old[p.name]]
    if not changed:
        return text
    root = compose(text)
    section = child(root, "inputs")
    if section is None:
        pairs = [(name, "{default: " + number_text(value) + "}") for name, value in changed]
        return insert_section(text, root, "inputs", pairs, _after("inputs"))
    plan = Plan()
    for name, value in changed:
        if isinstance(child(section, name), MappingNode):
            plan.set(("inputs", name), "default", number_text(value))
        else:
            plan.set(("inputs",), name, "{default: " + number_text(value) + "}")
    return apply(text, root, plan, {})


def _write_conventions(text: str, edited: EditedWorkbook, path: Path) -> str:
    """Write every convention whose value in the workbook differs from what the spec gives."""
    target = edited.network.conventions
    preset = edited.original.preset
    spec_network = load_text(text, path, check=False)
    if dict(spec_network.conventions) == dict(target):
        return text
    root = compose(text)
    section = child(root, "conventions")
    pairs: list[tuple[str, str]] = []
    if preset is not None and spec_network.preset != preset:
        pairs.append(("preset", preset))
    baseline = preset_values(preset) if preset in PRESETS else conventions_module.resolve({})
    present = {key.value for key, _ in section.value} if isinstance(section, MappingNode) else set()
    for convention in conventions_module.CONVENTIONS:
        name = convention.name
        value = target[name]
        if name in present:
            if spec_network.conventions[name] != value:
                pairs.append((name, number_text(value)))
        elif baseline[name] != value:
            pairs.append((name, number_text(value)))
    if not pairs:
        return text
    if section is None:
        return insert_section(text, root, "conventions", pairs, _after("conventions"))
    plan = Plan()
    for name, value_text in pairs:
        plan.set(("conventions",), name, value_text)
    return apply(text, root, plan, {})


def _after(section: str) -> list[str]:
    return list(SECTION_ORDER[SECTION_ORDER.index(section) + 1:])


# Layers.

@dataclass(frozen=True)
class _Placement:
    """Where a layer of the network is defined: its entry, and the block instance it belongs to."""

    layer: str
    entry: NodePath
    block: str | None
    prefix: str


@dataclass(frozen=True)
class _Use:
    """One instance of a block: the use entry that made it, inside an instance of another block or at the top."""

    entry: NodePath
    block: str
    container: str | None
    outer: str
    prefix: str


class _Layout:
    """The spec text's layers and block uses, found by walking the YAML nodes as the loader expands them."""

    def __init__(self, text: str):
        self.text = text
        self.root = compose(text)
        self.placements: dict[str, _Placement] = {}
        self.uses: list[_Use] = []
        self._walk(("layers",), None, "", {})

    def _walk(self, sequence: NodePath, block: str | None, prefix: str, args: dict) -> None:
        entries = node_at(self.root, sequence)
        for index, entry in enumerate(entries.value if isinstance(entries, SequenceNode) else []):
            path = sequence + (index,)
            name = str(scalar_value(child(entry, "name")))
            use = scalar_value(child(entry, "use"))
            if use is None:
                self.placements[prefix + name] = _Placement(prefix + name, path, block, prefix)
                continue
            definition = ("blocks", str(use))
            params = node_at(self.root, definition + ("params",))
            arguments = child(entry, "with")
            inner = {}
            for key, default in (params.value if isinstance(params, MappingNode) else []):
                value = child(arguments, key.value)
                inner[key.value] = self.evaluate(value if value is not None else default, args)
            self.uses.append(_Use(path, str(use), block, prefix, prefix + name + "."))
            self._walk(definition + ("layers",), str(use), prefix + name + ".", inner)

    @staticmethod
    def evaluate(node, args: dict) -> Fraction | None:
        try:
            return expr.evaluate_number(expr.parse(scalar_value(node)), args)
        except (expr.ExpressionError, TypeError):
            return None

    def instances(self, block: str | None) -> list[str]:
        if block is None:
            return [""]
        return [use.prefix for use in self.uses if use.block == block]

    def params(self, block: str) -> list[str]:
        params = node_at(self.root, ("blocks", block, "params"))
        return [key.value for key, _ in params.value] if isinstance(params, MappingNode) else []

    def users(self, block: str) -> dict[NodePath, list[_Use]]:
        """Group the instances of ``block`` by the use entry that makes them."""
        grouped: dict[NodePath, list[_Use]] = {}
        for use in self.uses:
            if use.block == block:
                grouped.setdefault(use.entry, []).append(use)
        return grouped


@dataclass
class _Site:
    """A value in the spec text: the key ``key`` of the mapping at ``mapping``, or one part of a pair there."""

    block: str | None
    mapping: NodePath
    key: str
    part: int | None
    boolean: bool = False


class _LayerWriter:
    """Writes each layer value that differs from the workbook into the spec text, one difference at a time."""

    def __init__(self, text: str, edited: EditedWorkbook):
        self.text = text
        self.edited = edited
        self.target = edited.network
        self.by_name = {layer.name: layer for layer in self.target.layers}
        self.order = {layer.name: index for index, layer in enumerate(self.target.layers)}
        self.inputs = self.target.input_defaults()

    def run(self) -> tuple[str, list[Problem], list[Problem]]:
        notes: list[Problem] = []
        unresolved: dict[tuple[str, str], Problem] = {}
        current = self.differences(self.text)
        while True:
            pending = sorted(current - set(unresolved), key=lambda d: (self.order[d[0]], d[1]))
            if not pending:
                break
            difference = pending[0]
            for mode in MODES:
                try:
                    attempt = self.attempt(difference, mode)
                except ValueError:  # yaml_patch found two edits of one place: try the next mode
                    attempt = None
                if attempt is None:
                    continue
                text, attempt_notes = attempt
                try:
                    after = self.differences(text)
                except SpecError:
                    continue
                if difference not in after and after <= current:
                    self.text, current = text, after
                    notes.extend(attempt_notes)
                    break
            else:
                unresolved[difference] = self.not_expressible(difference)
        return self.text, notes, list(unresolved.values())

    # Comparing a text's network with the workbook's.

    def differences(self, text: str) -> set[tuple[str, str]]:
        network = load_text(text, self.edited.original.path, check=False)
        if [layer.name for layer in network.layers] != list(self.by_name):
            raise RuntimeError("an exported spec's layers differ from the workbook's spec: a bug in export_spec")
        found = set()
        for layer in network.layers:
            target = self.by_name[layer.name]
            for column in target.hyper:
                if layer.hyper.get(column) != target.hyper[column]:
                    found.add((layer.name, column))
            if target.op.c_out is None and layer.out_channels != target.out_channels:
                found.add((layer.name, "C_out"))
            if self._repeat(layer) != self._repeat(target):
                found.add((layer.name, "Repeat"))
        return found

    def _repeat(self, layer) -> Fraction:
        if layer.repeat is None:
            return Fraction(1)
        return expr.evaluate_number(layer.repeat, self.inputs)

    def value(self, layer: str, column: str) -> Fraction:
        target = self.by_name[layer]
        if column == "C_out":
            return target.out_channels
        if column == "Repeat":
            return self._repeat(target)
        return target.hyper[column]

    # Planning one difference.

    def attempt(self, difference: tuple[str, str], mode: str) -> tuple[str, list[Problem]] | None:
        layout = _Layout(self.text)
        layer_name, column = difference
        placement = layout.placements.get(layer_name)
        if placement is None:
            return None
        op = self.by_name[layer_name].op.name
        plan, fills, notes = Plan(), {}, []
        planner = _Planner(layout, plan, fills, notes, mode, self.edited)
        entry = node_at(layout.root, placement.entry)
        if column == "C_out":
            field, part = CHANNEL_FIELDS.get(op), None
            if field is None:
                return None
        else:
            field, part = COLUMN_FIELDS[column]
        ok = self.plan_field(planner, layout, placement, entry, field, part, op)
        if ok and field == "kernel" and op in POOLING and child(entry, "stride") is None:
            ok = self.plan_field(planner, layout, placement, entry, "stride", None, op, whole=True)
        padding = scalar_value(child(entry, "padding"))
        if ok and field in ("kernel", "dilation") and padding in ("same", "valid"):
            ok = self.plan_field(planner, layout, placement, entry, "padding", None, op, whole=True)
        if not ok:
            return None
        return apply(layout.text, layout.root, plan, fills), notes

    def plan_field(self, planner, layout: _Layout, placement: _Placement, entry, field: str,
                   part: int | None, op: str, whole: bool = False) -> bool:
        """Plan the value of one field (or one part of a pair field) for every instance of the entry."""
        instances = [p for p in layout.placements.values() if p.entry == placement.entry]
        site = _Site(placement.block, placement.entry, field, None, boolean=field in BOOLEAN_FIELDS)
        if field not in PAIR_COLUMNS:
            column = "C_out" if field in CHANNEL_FIELDS.values() else next(
                c for c, (f, _) in COLUMN_FIELDS.items() if f == field)
            desired = {p.prefix: self.value(p.layer, column) for p in instances}
            return planner.assign(site, desired)
        height, width = PAIR_COLUMNS[field]
        heights = {p.prefix: self.value(p.layer, height) for p in instances}
        widths = {p.prefix: self.value(p.layer, width) for p in instances}
        node = child(entry, field)
        fill = _pair_fill(layout, entry, field, op)
        if not isinstance(node, SequenceNode) and all(heights[p] == widths[p] for p in heights):
            return planner.assign(site, heights)
        site_h = _Site(site.block, site.mapping, field, 0)
        site_w = _Site(site.block, site.mapping, field, 1)
        if whole or (fill is None and not isinstance(node, SequenceNode)):
            return planner.assign(site_h, heights) and planner.assign(site_w, widths)
        if fill is not None:
            planner.fills[(site.mapping, field)] = fill
        return planner.assign(site_h, heights) if part == 0 else planner.assign(site_w, widths)

    def not_expressible(self, difference: tuple[str, str]) -> Problem:
        layer_name, column = difference
        where = (self.edited.cell_where(layer_name, column) if column in self.edited.columns
                 else self.edited.row_where(layer_name))
        layout = _Layout(self.text)
        placement = layout.placements.get(layer_name)
        value = _show(self.value(layer_name, column))
        if placement is None or placement.block is None:
            return Problem(where, f"{column} of layer {layer_name!r} = {value} could not be written into the "
                                  "spec: edit the spec by hand and build it again")
        uses = ", ".join(use.prefix.rstrip(".") for use in layout.uses if use.block == placement.block)
        field = CHANNEL_FIELDS.get(self.by_name[layer_name].op.name) if column == "C_out" \
            else COLUMN_FIELDS[column][0]
        reason = (f"'{field}' is true or false and cannot take a block parameter"
                  if field in BOOLEAN_FIELDS else "no change of the block or its uses gives every use its "
                                                  "workbook value")
        return Problem(where, f"{column} of layer {layer_name!r} = {value} cannot be written into the spec: "
                              f"the layer comes from block {placement.block!r} (used by {uses}) and {reason}. "
                              "Make the same edit in every use of the block, or edit the spec by hand")


def _pair_fill(layout: _Layout, entry, field: str, op: str) -> tuple[str, str] | None:
    """Return the text of each part of a pair field that is one value or missing; None when it has no parts."""
    node = child(entry, field)
    if isinstance(node, SequenceNode):
        return None
    if isinstance(node, ScalarNode):
        if scalar_value(node) in ("same", "valid"):
            return None
        text = source(layout.text, node)
        return text, text
    if field == "stride" and op in POOLING:
        return _pair_fill(layout, entry, "kernel", op) or _pair_parts(layout, child(entry, "kernel"))
    default = FIELD_DEFAULTS.get(field)
    return (default, default) if default is not None else None


def _pair_parts(layout: _Layout, node) -> tuple[str, str] | None:
    if isinstance(node, SequenceNode) and len(node.value) == 2:
        return source(layout.text, node.value[0]), source(layout.text, node.value[1])
    return None


class _Planner:
    """Plans one value for every instance of the block that holds it, recursing to the block's uses."""

    def __init__(self, layout: _Layout, plan: Plan, fills: dict, notes: list[Problem], mode: str,
                 edited: EditedWorkbook):
        self.layout = layout
        self.plan = plan
        self.fills = fills
        self.notes = notes
        self.mode = mode
        self.edited = edited
        self.new_params: dict[str, set[str]] = {}

    def assign(self, site: _Site, desired: dict[str, Fraction]) -> bool:
        """Plan ``site`` so that each instance of its block (by prefix) gets its ``desired`` value."""
        values = set(desired.values())
        if len(values) == 1:
            self.write(site, self.literal(values.pop(), site.boolean))
            return True
        if site.boolean or site.block is None:
            return False
        parameter = self.bare_parameter(site)
        if self.mode == "with" and parameter is not None:
            return self.through_uses(site.block, parameter, desired)
        return self.split(site, desired)

    def literal(self, value: Fraction, boolean: bool) -> str:
        if boolean:
            return "true" if value else "false"
        return number_text(value)

    def write(self, site: _Site, text: str) -> None:
        self.plan.set(site.mapping, site.key, text, site.part)

    def current_text(self, site: _Site) -> str | None:
        node = child(node_at(self.layout.root, site.mapping), site.key)
        if isinstance(node, SequenceNode) and site.part is not None and len(node.value) == 2:
            return source(self.layout.text, node.value[site.part])
        if isinstance(node, ScalarNode):
            return source(self.layout.text, node)
        if node is None and site.key != "repeat" and site.mapping[-1:] == ("with",):
            default = node_at(self.layout.root, ("blocks", self._used_block(site), "params", site.key))
            return source(self.layout.text, default) if isinstance(default, ScalarNode) else None
        return None

    def _used_block(self, site: _Site) -> str:
        return str(scalar_value(child(node_at(self.layout.root, site.mapping[:-1]), "use")))

    def bare_parameter(self, site: _Site) -> str | None:
        text = self.current_text(site)
        if text is None:
            return None
        try:
            tree = expr.parse(text.strip("'\""))
        except expr.ExpressionError:
            return None
        if isinstance(tree, expr.Name) and tree.id in self.layout.params(site.block):
            return tree.id
        return None

    def through_uses(self, block: str, parameter: str, desired: dict[str, Fraction]) -> bool:
        """Give ``parameter`` each instance's value in the ``with:`` of the use that makes the instance."""
        for entry, uses in self.layout.users(block).items():
            expected = {use.outer: desired[use.prefix] for use in uses}
            site = _Site(uses[0].container, entry + ("with",), parameter, None)
            if not self.assign(site, expected):
                return False
        return True

    def split(self, site: _Site, desired: dict[str, Fraction]) -> bool:
        """Give the value a new parameter of its block, set by each use's ``with:``."""
        block = site.block
        name = self.new_name(block, site)
        default = self.default_of(site, desired)
        self.write(site, name)
        self.plan.set(("blocks", block, "params"), name, number_text(default))
        entry_name = self._entry_name(site)
        self.notes.append(Problem(str(self.edited.path), (
            f"block {block!r}: {site.key} of {entry_name!r} became the block parameter {name!r} "
            f"(default {_show(default)}), set by the uses of the block that differ")))
        for entry, uses in self.layout.users(block).items():
            expected = {use.outer: desired[use.prefix] for use in uses}
            if all(value == default for value in expected.values()):
                continue
            if not self.assign(_Site(uses[0].container, entry + ("with",), name, None), expected):
                return False
        return True

    def _entry_name(self, site: _Site) -> str:
        owner = site.mapping[:-1] if site.mapping[-1:] == ("with",) else site.mapping
        return str(scalar_value(child(node_at(self.layout.root, owner), "name")))

    def new_name(self, block: str, site: _Site) -> str:
        suffix = {0: "_h", 1: "_w"}.get(site.part, "")
        base = re.sub(r"\W", "_", f"{self._entry_name(site)}_{site.key}{suffix}")
        if not re.match(r"[A-Za-z_]", base):
            base = "p_" + base
        used = set(self.layout.params(block)) | self.new_params.setdefault(block, set())
        name, number = base, 2
        while name in used:
            name, number = f"{base}_{number}", number + 1
        self.new_params[block].add(name)
        return name

    def default_of(self, site: _Site, desired: dict[str, Fraction]) -> Fraction:
        """Return the new parameter's default: the value at the block's defaults, else the most common value."""
        text = self.current_text(site)
        if text is not None:
            defaults = {}
            params = node_at(self.layout.root, ("blocks", site.block, "params"))
            for key, value in (params.value if isinstance(params, MappingNode) else []):
                number = _Layout.evaluate(value, {})
                if number is not None:
                    defaults[key.value] = number
            try:
                return expr.evaluate_number(expr.parse(text.strip("'\"")), defaults)
            except expr.ExpressionError:
                pass
        return Counter(desired.values()).most_common(1)[0][0]


def _verify(final: Network, edited: EditedWorkbook) -> None:
    """Check that the exported spec gives every value the workbook contains (typed-over cells aside)."""
    target = edited.network
    differing = []
    if final.input_defaults() != target.input_defaults():
        differing.append("the inputs")
    if dict(final.conventions) != dict(target.conventions):
        differing.append("the conventions")
    for layer, expected in zip(final.layers, target.layers):
        if dict(layer.hyper) != dict(expected.hyper) or layer.out_channels != expected.out_channels:
            differing.append(f"layer {layer.name!r}")
    if differing:
        raise RuntimeError(f"the exported spec of {edited.path} does not reproduce "
                           + ", ".join(differing) + " of the workbook: a bug in export_spec")
