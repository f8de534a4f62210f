"""Element-wise ops: add, multiply, concat and activations. None has parameters.

An add or multiply of ``n`` inputs costs ``add_ops`` (or ``multiply_ops``) per
output element for each of the ``n - 1`` operations; concat costs nothing. The
output has the first input's shape: a multiply's later inputs may also be
C x 1 x 1 (a scale per channel) or 1 x H x W (a scale per position), as in
attention modules.
"""

from __future__ import annotations

from ..expr import Name
from . import C_in, H_in, Op, W_in, ZERO, n_inputs, register, same_size

_elements = C_in * H_in * W_in

add = register(Op(
    name="add", hyperparameters=(), shape=same_size,
    macs=Name("add_ops") * (n_inputs - 1) * _elements, params=ZERO,
    min_inputs=2, max_inputs=None, description="element-wise sum",
))

multiply = register(Op(
    name="multiply", hyperparameters=(), shape=same_size,
    macs=Name("multiply_ops") * (n_inputs - 1) * _elements, params=ZERO,
    min_inputs=2, max_inputs=None, description="element-wise product",
))

# C_in of a concat is the sum of its producers' channels, so C_out = C_in.
concat = register(Op(
    name="concat", hyperparameters=(), shape=same_size,
    macs=ZERO, params=ZERO,
    min_inputs=2, max_inputs=None, description="channel concatenation",
))

activation = register(Op(
    name="activation", hyperparameters=(), shape=same_size,
    macs=Name("activation_ops") * _elements, params=ZERO,
    description="activation (ReLU, sigmoid, softmax, ...)",
))
