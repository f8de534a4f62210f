"""Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool and global_avg_pool.

Pooling has no parameters. Its cost is a weighted sum of three counts, so each
tool's rule is a choice of weights. ``pool_window_ops`` is charged per output
element and window element; with it, 2 x 2 stride-2 pooling costs one operation
per input element, as the notes preset counts. ``pool_input_ops`` is charged per
input element and ``pool_output_ops`` per output element. Average pooling of every kind adds
``avg_output_ops`` per output element (the division). Adaptive and global
average pooling cost ``global_pool_ops`` per input element instead of the
window terms, because their window depends on the input size.
"""

from __future__ import annotations

from ..expr import Name
from . import C_in, H_in, H_out, Op, W_in, W_out, ZERO, hyper, register
from .window import window_out

k_h, k_w = hyper("k_h"), hyper("k_w")
stride_h, stride_w = hyper("stride_h"), hyper("stride_w")
pad_h, pad_w = hyper("pad_h"), hyper("pad_w")
dilation_h, dilation_w = hyper("dilation_h"), hyper("dilation_w")
ceil_mode = hyper("ceil_mode")

POOL_MACS = C_in * (Name("pool_window_ops") * H_out * W_out * k_h * k_w
                    + Name("pool_input_ops") * H_in * W_in
                    + Name("pool_output_ops") * H_out * W_out)

_HYPERPARAMETERS = ("k_h", "k_w", "stride_h", "stride_w", "pad_h", "pad_w",
                    "dilation_h", "dilation_w", "ceil_mode")


def _pool_shape(mode: str):
    return (window_out(H_in, k_h, stride_h, pad_h, dilation_h, mode, ceil_mode),
            window_out(W_in, k_w, stride_w, pad_w, dilation_w, mode, ceil_mode))


max_pool2d = register(Op(
    name="max_pool2d", hyperparameters=_HYPERPARAMETERS, shape=_pool_shape,
    macs=POOL_MACS, params=ZERO, description="2-D max pooling",
))

avg_pool2d = register(Op(
    name="avg_pool2d", hyperparameters=_HYPERPARAMETERS, shape=_pool_shape,
    macs=POOL_MACS + Name("avg_output_ops") * C_in * H_out * W_out, params=ZERO,
    description="2-D average pooling",
))

_ADAPTIVE_MACS = C_in * (Name("global_pool_ops") * H_in * W_in
                         + Name("avg_output_ops") * H_out * W_out)

# torch.nn.AdaptiveAvgPool2d: the output size is given, the windows follow from the input size.
adaptive_avg_pool = register(Op(
    name="adaptive_avg_pool", hyperparameters=("out_h", "out_w"),
    shape=lambda mode: (hyper("out_h"), hyper("out_w")),
    macs=_ADAPTIVE_MACS, params=ZERO,
    description="adaptive average pooling to a given output size",
))

global_avg_pool = register(Op(
    name="global_avg_pool", hyperparameters=(),
    shape=lambda mode: (ZERO + 1, ZERO + 1),
    macs=_ADAPTIVE_MACS, params=ZERO,
    description="global average pooling to 1 x 1",
))
