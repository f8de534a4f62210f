"""Batch norm.

Cost ``H·W·C·(bn_ops + bn_batch_ops·b)``: with the defaults 2 and 2 this is
``H·W·C·(b + 1)·2``, the training-time rule that charges the mean and the
variance over the whole batch and normalising, scaling and shifting once.
A further ``bn_channel_ops·C`` is charged per image whatever the map's size
(torchinfo charges the 2·C affine parameters once per image).
Parameters ``bn_params·C`` (scale and shift; running statistics are buffers).
"""

from __future__ import annotations

from ..expr import Name
from . import C_in, H_in, Op, W_in, b, register, same_size

batch_norm = register(Op(
    name="batch_norm", hyperparameters=(), shape=same_size,
    macs=(H_in * W_in * C_in * (Name("bn_ops") + Name("bn_batch_ops") * b)
          + Name("bn_channel_ops") * C_in),
    params=Name("bn_params") * C_in,
    description="batch normalisation",
))
