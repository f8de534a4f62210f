"""The cells of a layer row as expressions: one program, evaluated exactly, symbolically or as Excel formulas.

Names in these expressions are the row's own cells (``C_in``, ``H_out``, the
hyperparameters, ...), the inputs and conventions, and ``@layer.column`` for a
cell of another layer's row (the producer's ``C_out``, for example).
"""

from __future__ import annotations

from fractions import Fraction

from .expr import Expr, Name, Num, substitute
from .network import Layer

SHAPE_COLUMNS = ("C_in", "H_in", "W_in", "C_out", "H_out", "W_out")
VALUE_COLUMNS = SHAPE_COLUMNS + ("Repeat", "MACs", "Params")


def ref(layer: str, column: str) -> Name:
    """Return the name of a cell in another layer's row."""
    return Name(f"@{layer}.{column}")


def layer_cells(layer: Layer, mode: str) -> dict[str, Expr | None]:
    """Return each value cell of the layer's row as an expression, in evaluation order.

    ``C_out`` of ops with editable channels is a constant (a ``Num``). A cell is
    None where the row has no such value, as the input layer has no ``C_in``.
    """
    # NOTE: programs.layer_template reuses these cells for every layer that agrees on the fields
    # read here (its cache key), so a new Layer field read here belongs in that key too.
    op = layer.op
    cells: dict[str, Expr | None] = {}
    if layer.inputs:
        producer = layer.inputs[0]
        if op.name == "concat":
            channels = ref(layer.inputs[0], "C_out")
            for other in layer.inputs[1:]:
                channels = channels + ref(other, "C_out")
            cells["C_in"] = channels
        else:
            cells["C_in"] = ref(producer, "C_out")
        cells["H_in"] = ref(producer, "H_out")
        cells["W_in"] = ref(producer, "W_out")
    else:
        cells["C_in"] = cells["H_in"] = cells["W_in"] = None
    cells["C_out"] = Num(layer.out_channels) if op.c_out is None else op.c_out

    structure = {"n_inputs": Fraction(len(layer.inputs))}
    if layer.size_of is not None:
        structure["H_ref"] = ref(layer.size_of, "H_out")
        structure["W_ref"] = ref(layer.size_of, "W_out")
    h_out, w_out = op.shape(mode)
    cells["H_out"] = substitute(h_out, structure)
    cells["W_out"] = substitute(w_out, structure)

    cells["Repeat"] = layer.repeat
    macs = substitute(op.macs, structure)
    params = substitute(op.params, structure)
    if layer.repeat is not None:
        macs = Name("Repeat") * macs
        if not layer.share_weights:
            params = Name("Repeat") * params
    cells["MACs"] = macs
    cells["Params"] = params
    for column, value in layer.fixed_values.items():
        cells[column] = Num(value)
    return cells


def is_constant(cell: Expr | None) -> bool:
    """Tell whether a cell contains a constant rather than a formula."""
    return isinstance(cell, Num)


