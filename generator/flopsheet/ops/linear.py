"""Fully connected layers.

With ``flatten`` set, the layer reads the whole C x H x W map as one vector, so
its in-features (and its parameter count) grow with the input size, and its
output is C_out x 1 x 1. Without it, the layer acts on the channels at each
position, as ``torch.nn.Linear`` does on the last axis.
"""

from __future__ import annotations

from ..expr import Name, select
from . import C_in, C_out, H_in, Op, W_in, hyper, register

flatten, bias = hyper("flatten"), hyper("bias")

IN_FEATURES = select(flatten, C_in * H_in * W_in, C_in)
POSITIONS = select(flatten, 1, H_in * W_in)

linear = register(Op(
    name="linear",
    hyperparameters=("flatten", "bias"),
    shape=lambda mode: (select(flatten, 1, H_in), select(flatten, 1, W_in)),
    macs=POSITIONS * (IN_FEATURES * C_out + bias * Name("bias_ops") * C_out),
    params=IN_FEATURES * C_out + bias * Name("bias_params") * C_out,
    c_out=None,
    description="fully connected layer",
))
