"""Layer templates: a layer row's cells prepared once for all layers of the same structure.

A deep network repeats a few layer structures many times. ``layer_template``
builds the cells of one layer with ``cells.layer_cells`` and renames the
producer references (``@conv1.C_out``) by position: ``@0.C_out`` for the first
input, ``@1.C_out`` for the second, and so on, with ``size_of`` last. The
result then serves every layer with the same op, shape mode, producer pattern,
repeat, weight sharing, output channels and typed-over values. Each template
keeps its cells compiled into Python closures over the polynomial arithmetic of
``flopsheet.polynomial``, and its Excel formulas split into text and cell slots.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from xlsxwriter.utility import xl_col_to_name

from . import polynomial
from .cells import VALUE_COLUMNS, layer_cells
from .expr import Bin, Call, Expr, Name, Neg, Num, substitute, to_excel
from .network import Layer

# Templates built so far, by structure key; cleared when it grows past this many entries.
MAX_TEMPLATES = 10_000
_TEMPLATES: dict[tuple, Template] = {}

Compiled = Callable[[dict], object]
_FUNCTIONS = {"floor": polynomial.floor, "ceil": polynomial.ceil, "min": polynomial.minimum,
              "max": polynomial.maximum, "select": polynomial.select}
# Separates the text of a formula from its cell slots, because no formula that flopsheet writes contains NUL.
_SLOT = "\x00"


def producers(layer: Layer) -> tuple[str, ...]:
    """Return the layers a row refers to, by position: its inputs, then its ``size_of`` layer if any."""
    return layer.inputs + ((layer.size_of,) if layer.size_of else ())


def layer_template(layer: Layer, mode: str) -> Template:
    """Return the template for the layer's structure, building it from this layer the first time."""
    names = producers(layer)
    # Which positions repeat an earlier producer: from: [a, a] and from: [a, b] need different templates.
    pattern = tuple(names.index(name) for name in names)
    # NOTE: the key must contain every Layer field that layer_cells reads, except the producer names.
    key = (id(layer.op), mode, pattern, layer.size_of is not None, layer.repeat, layer.share_weights,
           layer.out_channels, tuple(layer.fixed_values.items()), tuple(layer.hyper))
    template = _TEMPLATES.get(key)
    if template is None:
        if len(_TEMPLATES) >= MAX_TEMPLATES:
            _TEMPLATES.clear()
        template = _TEMPLATES[key] = Template(layer, mode, names, pattern)
    return template


class Template:
    """A layer row's cells with positional producer references, compiled for fast evaluation."""

    def __init__(self, layer: Layer, mode: str, names: tuple[str, ...], pattern: tuple[int, ...]):
        # Keeps the op alive, so the id in the cache key cannot be reused by another object.
        self.op = layer.op
        renames = {f"@{names[position]}.{column}": Name(f"@{position}.{column}")
                   for position in set(pattern) for column in VALUE_COLUMNS}
        cells = layer_cells(layer, mode)
        self.cells: dict[str, Expr | None] = {
            column: None if cell is None else substitute(cell, renames) for column, cell in cells.items()}
        found: set[str] = set()
        for cell in self.cells.values():
            if cell is not None:
                found |= {name for name in cell.names() if name.startswith("@")}
        # (env name, producer position, column) for every producer cell the row reads.
        self.references = tuple(sorted((name, int(name[1:].split(".")[0]), name.split(".", 1)[1])
                                       for name in found))
        self.compiled: tuple[tuple[str, Compiled | None], ...] = tuple(
            (column, None if self.cells[column] is None else compile_cell(self.cells[column]))
            for column in VALUE_COLUMNS)
        self._formulas: dict[tuple[str, int], tuple[tuple[str, ...], tuple]] = {}

    def evaluate(self, layer: Layer, shared: Mapping[str, object],
                 by_name: Mapping[str, Mapping[str, object]]) -> dict[str, object]:
        """Return the row's values over polynomial arithmetic, from the producers' values in ``by_name``.

        ``shared`` contains the conventions and the inputs. Raises ExpressionError,
        ArithmeticError, KeyError or TypeError where the reference evaluation in
        ``compute`` has the exact error message.
        """
        env = dict(shared)
        for name, value in layer.hyper.items():
            env[name] = polynomial.exact(value)
        names = producers(layer)
        for name, position, column in self.references:
            env[name] = by_name[names[position]][column]
        row = {}
        for column, function in self.compiled:
            value = None if function is None else function(env)
            row[column] = value
            env[column] = value
        return row

    def formula(self, column: str, columns: Mapping[str, int], own: frozenset) -> tuple[tuple[str, ...], tuple]:
        """Return a cell's Excel formula as text pieces and, per slot between them, the producer
        position (None for the row itself) and the column letter of the cell it refers to.

        ``columns`` gives the sheet column of each name. Names in ``own`` refer to
        the row's own cells and names of producer cells to the producers' rows.
        Any other name (an input or a convention) stays a defined name.
        """
        key = (column, id(columns))
        found = self._formulas.get(key)
        if found is None:
            slots: list[tuple[int | None, str]] = []
            text = "=" + to_excel(self.cells[column], _Slots(slots, columns, own))
            pieces = text.split(_SLOT)
            found = self._formulas[key] = (tuple(pieces[0::2]), tuple(slots[int(index)] for index in pieces[1::2]))
        return found


class _Slots(dict):
    """Maps each cell name to a numbered slot while a formula is rendered; other names pass through."""

    def __init__(self, slots: list, columns: Mapping[str, int], own: frozenset):
        super().__init__()
        self.slots = slots
        self.columns = columns
        self.own = own

    def __missing__(self, name: str) -> str:
        if name in self.own:
            slot = (None, xl_col_to_name(self.columns[name]))
        elif name.startswith("@"):
            position, column = name[1:].split(".", 1)
            slot = (int(position), xl_col_to_name(self.columns[column]))
        else:
            return name
        self.slots.append(slot)
        text = f"{_SLOT}{len(self.slots) - 1}{_SLOT}"
        self[name] = text
        return text


def fill_formula(pieces: Sequence[str], slots: Sequence[tuple], row: str, producer_rows: Sequence[str]) -> str:
    """Join a formula's pieces with cell references: ``row`` is the row's own number as text,
    ``producer_rows`` the producers' row numbers by position."""
    parts = [pieces[0]]
    for (position, letter), piece in zip(slots, pieces[1:]):
        parts.append(letter)
        parts.append(row if position is None else producer_rows[position])
        parts.append(piece)
    return "".join(parts)


def compile_cell(node: Expr) -> Compiled:
    """Compile an expression tree into a closure that evaluates it over ``polynomial``'s arithmetic."""
    if isinstance(node, Num):
        value = polynomial.exact(node.value)
        return lambda env: value
    if isinstance(node, Name):
        name = node.id
        return lambda env: env[name]
    if isinstance(node, Neg):
        operand = compile_cell(node.operand)
        return lambda env: -operand(env)
    if isinstance(node, Bin):
        left, right = compile_cell(node.left), compile_cell(node.right)
        if node.op == "+":
            return lambda env: left(env) + right(env)
        if node.op == "-":
            return lambda env: left(env) - right(env)
        if node.op == "*":
            return lambda env: left(env) * right(env)
        if node.op == "/":
            return lambda env: polynomial.divide(left(env), right(env))
        if node.op == "^":
            return lambda env: polynomial.power(left(env), right(env))
        raise ValueError(f"unknown operator {node.op!r}")
    if isinstance(node, Call):
        function = _FUNCTIONS[node.fn]
        arguments = tuple(compile_cell(argument) for argument in node.args)
        return lambda env: function(*(argument(env) for argument in arguments))
    raise TypeError(f"not an expression node: {node!r}")
