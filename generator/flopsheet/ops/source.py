"""The network's input: C_out channels (editable) of size h x w."""

from __future__ import annotations

from . import ZERO, Op, h, register, w

input_op = register(Op(
    name="input", hyperparameters=(), shape=lambda mode: (h, w),
    macs=ZERO, params=ZERO, c_out=None, min_inputs=0, max_inputs=0,
    description="network input",
))
