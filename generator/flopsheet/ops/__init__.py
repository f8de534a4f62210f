"""Op rules: each op's output shape, cost and parameter count, side by side.

A rule is a set of expressions over the names below. The same expression is
evaluated exactly (values), symbolically (closed forms) and rendered as an
Excel formula over the layer row's cells (workbook), so the three cannot drift.

Names a rule may use:

- ``C_in``, ``H_in``, ``W_in``: the layer's input (the first producer's shape;
  concat sums its producers' channels);
- ``C_out``, ``H_out``, ``W_out``: the layer's output;
- the hyperparameters in ``HYPERPARAMETERS``;
- the counting conventions of ``flopsheet.conventions``;
- the inputs ``h``, ``w``, ``b``;
- ``n_inputs`` (how many producers the layer has) and ``H_ref``, ``W_ref``
  (the output size of the layer named by ``size_of``).

Costs are MACs for one image; parameters are counted once per layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..expr import Expr, Name, lift

C_in, H_in, W_in = Name("C_in"), Name("H_in"), Name("W_in")
C_out, H_out, W_out = Name("C_out"), Name("H_out"), Name("W_out")
h, w, b = Name("h"), Name("w"), Name("b")
n_inputs, H_ref, W_ref = Name("n_inputs"), Name("H_ref"), Name("W_ref")

# Hyperparameter columns of the layer table, in order, with their defaults.
HYPERPARAMETERS: dict[str, int] = {
    "k_h": 1, "k_w": 1,
    "stride_h": 1, "stride_w": 1,
    "pad_h": 0, "pad_w": 0,
    "dilation_h": 1, "dilation_w": 1,
    "groups": 1,
    "out_pad_h": 0, "out_pad_w": 0,
    "ceil_mode": 0,
    "bias": 0,
    "flatten": 0,
    "scale_h": 1, "scale_w": 1,
    "out_h": 1, "out_w": 1,
}


def hyper(name: str) -> Name:
    """Return the expression for a hyperparameter column."""
    if name not in HYPERPARAMETERS:
        raise KeyError(name)
    return Name(name)


# Maps the shape mode ("ideal" or "exact") to the (H_out, W_out) expressions.
Shape = Callable[[str], tuple[Expr, Expr]]


@dataclass(frozen=True)
class Op:
    """An op's rules: output shape, MACs and parameters as expressions."""

    name: str
    hyperparameters: tuple[str, ...]
    shape: Shape
    macs: Expr
    params: Expr
    # None: C_out is an editable constant of the layer (convolutions, linear, input).
    c_out: Expr | None = C_in
    min_inputs: int = 1
    max_inputs: int | None = 1
    needs_ref: bool = False
    description: str = ""


def same_size(mode: str) -> tuple[Expr, Expr]:
    """Keep the input's spatial size."""
    return H_in, W_in


ZERO = lift(0)

REGISTRY: dict[str, Op] = {}


def register(op: Op) -> Op:
    """Add an op to the registry under its name."""
    REGISTRY[op.name] = op
    return op


from . import conv, elementwise, linear, norm, pool, source, upsample  # noqa: E402,F401
