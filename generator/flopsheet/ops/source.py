"""Sources of a layer table: the network's input and feedback from a later layer.

Neither has a cost or parameters. The input is C_out channels (editable) of
size h x w. A feedback source stands for a later layer's output at the previous
time step of a recurrent network. Its channels and its size relative to the
input (``scale``) are stated, not read from that layer, so the workbook has no
circular reference. Loading checks that they agree with the layer at the defaults.
"""

from __future__ import annotations

from . import ZERO, Op, h, hyper, register, w

input_op = register(Op(
    name="input", hyperparameters=(), shape=lambda mode: (h, w),
    macs=ZERO, params=ZERO, c_out=None, min_inputs=0, max_inputs=0,
    description="network input",
))

feedback = register(Op(
    name="feedback", hyperparameters=("scale_h", "scale_w"),
    shape=lambda mode: (h * hyper("scale_h"), w * hyper("scale_w")),
    macs=ZERO, params=ZERO, c_out=None, min_inputs=0, max_inputs=0,
    description="a later layer's output at the previous time step",
))
