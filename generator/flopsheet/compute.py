"""Computing a network: every layer's shape, MACs and parameters, as numbers or as closed forms."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping, Sequence

from . import analysis, excel_numbers, expr
from .cells import VALUE_COLUMNS, layer_cells
from .errors import Problem, SpecError
from .lazy_sympy import sympy
from .network import Layer, Network

Row = dict[str, object]


@dataclass(frozen=True)
class Block:
    """A run of consecutive layers with the same block label."""

    label: str
    first: int
    last: int


def evaluate_rows(network: Network, inputs: Mapping[str, object], backend: expr.Backend,
                  programs: Sequence[dict] | None = None) -> list[Row]:
    """Evaluate every layer's value cells with the inputs given (numbers or sympy symbols)."""
    programs = programs or [layer_cells(layer, network.shape_mode) for layer in network.layers]
    shared = shared_values(network, inputs, backend)
    rows: list[Row] = []
    by_name: dict[str, Row] = {}
    for layer, cells in zip(network.layers, programs):
        row = evaluate_layer(network, layer, cells, shared, by_name, backend)
        rows.append(row)
        by_name[layer.name] = row
    return rows


def shared_values(network: Network, inputs: Mapping[str, object], backend: expr.Backend) -> dict:
    """Return the conventions and the inputs as the names every layer's cells may use."""
    shared = dict(network.conventions)
    if backend is expr.SYMBOLIC:
        shared = {k: sympy.Rational(v.numerator, v.denominator) for k, v in shared.items()}
    shared.update(inputs)
    return shared


def evaluate_layer(network: Network, layer: Layer, cells: Mapping[str, expr.Expr | None],
                   shared: Mapping[str, object], by_name: Mapping[str, Row], backend: expr.Backend) -> Row:
    """Evaluate one layer's value cells; ``by_name`` contains the rows of the layers it reads."""
    env = dict(shared)
    for name, value in layer.hyper.items():
        env[name] = value if backend is expr.NUMBERS else sympy.Rational(value.numerator, value.denominator)
    for producer in set(layer.inputs) | ({layer.size_of} if layer.size_of else set()):
        for column, value in by_name[producer].items():
            env[f"@{producer}.{column}"] = value
    row: Row = {}
    for column in VALUE_COLUMNS:
        cell = cells[column]
        try:
            value = None if cell is None else expr.evaluate(cell, env, backend)
        except (expr.ExpressionError, ZeroDivisionError) as error:
            raise SpecError([Problem(network.where(layer.line),
                                     f"layer {layer.name!r}: {column}: {error}")]) from None
        if backend is expr.NUMBERS and value is not None:
            value = Fraction(value)
        row[column] = value
        env[column] = value
    return row


def evaluate(network: Network, overrides: Mapping[str, Fraction] | None = None) -> list[Row]:
    """Return every layer's values as Fractions at the defaults, replaced by ``overrides``.

    The rows are computed once per network and shared between callers: do not modify them.
    """
    inputs = network.input_defaults()
    inputs.update(overrides or {})
    return analysis.values_at(network, inputs)


def symbols(network: Network) -> dict[str, sympy.Symbol]:
    """Return a positive sympy symbol for each input of the network."""
    return {p.name: sympy.Symbol(p.name, positive=True) for p in network.inputs}


def closed_forms(network: Network) -> list[Row]:
    """Return every layer's values as sympy expressions in the inputs, MACs and Params expanded.

    The rows are computed once per network and shared between callers: do not modify them.
    """
    return analysis.symbolic_rows(network)


def polynomial_forms(network: Network) -> list[Row]:
    """Return every layer's closed forms as numbers, ``Polynomial``s or, where they are not
    polynomials, expanded sympy expressions; the fast form for formatting and sums."""
    return analysis.polynomial_rows(network)


def total(rows: Sequence[Row], column: str):
    """Return the sum of a column over all rows."""
    return sum((row[column] for row in rows), start=0)


def blocks(network: Network) -> list[Block]:
    """Return the runs of consecutive layers that share a block label."""
    found: list[Block] = []
    for index, layer in enumerate(network.layers):
        if found and found[-1].label == layer.block and found[-1].last == index - 1:
            found[-1] = Block(layer.block, found[-1].first, index)
        elif layer.block:
            found.append(Block(layer.block, index, index))
    return found


def check(network: Network, rows: Sequence[Row]) -> None:
    """Raise SpecError for every layer whose shapes are invalid at these values."""
    problems = []
    by_name = {layer.name: row for layer, row in zip(network.layers, rows)}
    for layer, row in zip(network.layers, rows):
        message = _layer_problem(layer, row, by_name)
        if message:
            problems.append(Problem(network.where(layer.line), f"layer {layer.name!r}: {message}"))
    for column in ("MACs", "Params"):
        if not problems and excel_numbers.too_large(total(rows, column)):
            problems.append(Problem(network.where(None), f"the total of {column} is beyond Excel's largest "
                                                         "number (about 1E+308): use smaller sizes or counts"))
    if problems:
        raise SpecError(problems)


def layer_problem(layer: Layer, row: Row, by_name: Mapping[str, Row]) -> str | None:
    """Return what is invalid about one layer's values (``by_name``: every layer's row), or None."""
    return _layer_problem(layer, row, by_name)


def _layer_problem(layer: Layer, row: Row, by_name: Mapping[str, Row]) -> str | None:
    for column in VALUE_COLUMNS:
        if row[column] is not None and excel_numbers.too_large(row[column]):
            return (f"{column} is beyond Excel's largest number (about 1E+308) at the default inputs: "
                    "use smaller sizes, channel counts or repeat counts")
    for column in ("C_in", "C_out", "H_out", "W_out"):
        value = row[column]
        if value is not None and value <= 0:
            return (f"{column} is {_show(value)} at the default inputs: "
                    f"{_shrink_hint(layer) if column != 'C_out' else 'use a positive channel count'}")
    if layer.feedback_of is not None:
        target = by_name[layer.feedback_of]
        for column in ("C_out", "H_out", "W_out"):
            if target[column] != row[column]:
                return (f"feedback {column} = {_show(row[column])} but {layer.feedback_of!r} has "
                        f"{_show(target[column])}: make 'channels' and 'scale' match that layer")
    groups = layer.hyper.get("groups", Fraction(1))
    if groups != 1:
        for column in ("C_in", "C_out"):
            if row[column] % groups != 0:
                return (f"groups = {_show(groups)} does not divide {column} = {_show(row[column])}: "
                        "use a divisor of both channel counts")
    if layer.op.name in ("add", "multiply", "concat"):
        first = by_name[layer.inputs[0]]
        columns = ("H_out", "W_out") if layer.op.name == "concat" else ("C_out", "H_out", "W_out")
        for other in layer.inputs[1:]:
            if layer.op.name == "multiply" and _broadcasts(by_name[other], first):
                continue
            for column in columns:
                if by_name[other][column] != first[column]:
                    return (f"inputs disagree: {layer.inputs[0]!r} has {column} = {_show(first[column])}, "
                            f"{other!r} has {_show(by_name[other][column])}; "
                            f"{layer.op.name} needs equal {'sizes' if layer.op.name == 'concat' else 'shapes'}")
    return None


def _broadcasts(other: Row, first: Row) -> bool:
    """Tell whether a multiply's later input scales the first per channel (C x 1 x 1) or per position (1 x H x W)."""
    per_channel = other["C_out"] == first["C_out"] and other["H_out"] == 1 and other["W_out"] == 1
    per_position = other["C_out"] == 1 and (other["H_out"], other["W_out"]) == (first["H_out"], first["W_out"])
    return per_channel or per_position


def _shrink_hint(layer: Layer) -> str:
    if "k_h" in layer.hyper:
        return ("the kernel is larger than the padded input: use a larger input, "
                "more padding or a smaller kernel")
    return "check the layers that shrink the map before it"


def _show(value) -> str:
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"
