"""Upsampling, bilinear or nearest, by a factor or to another layer's size.

No parameters. Cost: ``bilinear_ops`` or ``nearest_ops`` per output element.
"""

from __future__ import annotations

from ..expr import Name
from . import C_in, H_in, H_out, H_ref, Op, W_in, W_out, W_ref, ZERO, hyper, register

scale_h, scale_w = hyper("scale_h"), hyper("scale_w")


def _by_factor(mode: str):
    return H_in * scale_h, W_in * scale_w


def _to_reference(mode: str):
    return H_ref, W_ref


for _kind in ("bilinear", "nearest"):
    _macs = Name(f"{_kind}_ops") * C_in * H_out * W_out
    register(Op(name=f"upsample_{_kind}", hyperparameters=("scale_h", "scale_w"),
                shape=_by_factor, macs=_macs, params=ZERO,
                description=f"{_kind} upsampling by a factor"))
    register(Op(name=f"upsample_{_kind}_to", hyperparameters=(),
                shape=_to_reference, macs=_macs, params=ZERO, needs_ref=True,
                description=f"{_kind} upsampling to another layer's size"))
