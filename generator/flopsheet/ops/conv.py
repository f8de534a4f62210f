"""Convolutions: conv2d and conv_transpose2d.

A convolution costs one MAC per weight and output position:
``H_out·W_out·C_out·k_h·k_w·C_in/groups``. A bias adds ``bias_ops`` per output
element and ``C_out`` parameters when ``bias_params`` is 1.
"""

from __future__ import annotations

from ..expr import Name
from . import C_in, C_out, H_in, H_out, Op, W_in, W_out, hyper, register
from .window import window_out

k_h, k_w = hyper("k_h"), hyper("k_w")
stride_h, stride_w = hyper("stride_h"), hyper("stride_w")
pad_h, pad_w = hyper("pad_h"), hyper("pad_w")
dilation_h, dilation_w = hyper("dilation_h"), hyper("dilation_w")
out_pad_h, out_pad_w = hyper("out_pad_h"), hyper("out_pad_w")
groups, bias = hyper("groups"), hyper("bias")
bias_ops, bias_params = Name("bias_ops"), Name("bias_params")
deconv_at_output = Name("deconv_at_output")

WEIGHTS = C_in / groups * k_h * k_w * C_out
BIAS_PARAMS = bias * bias_params * C_out


def _conv_shape(mode: str):
    return (window_out(H_in, k_h, stride_h, pad_h, dilation_h, mode),
            window_out(W_in, k_w, stride_w, pad_w, dilation_w, mode))


conv2d = register(Op(
    name="conv2d",
    hyperparameters=("k_h", "k_w", "stride_h", "stride_w", "pad_h", "pad_w",
                     "dilation_h", "dilation_w", "groups", "bias"),
    shape=_conv_shape,
    macs=H_out * W_out * WEIGHTS + bias * bias_ops * C_out * H_out * W_out,
    params=WEIGHTS + BIAS_PARAMS,
    c_out=None,
    description="2-D convolution",
))


def _transposed_shape(mode: str):
    # (H - 1)·s - 2·p + d·(k - 1) + output_padding + 1, linear in H in both modes.
    return ((H_in - 1) * stride_h - 2 * pad_h + dilation_h * (k_h - 1) + out_pad_h + 1,
            (W_in - 1) * stride_w - 2 * pad_w + dilation_w * (k_w - 1) + out_pad_w + 1)


# At input resolution each input element meets every weight of its group once, which
# is the multiplies actually done. At output resolution the layer is charged like a
# convolution producing the output, which is stride_h·stride_w times more.
_positions = deconv_at_output * H_out * W_out + (1 - deconv_at_output) * H_in * W_in

conv_transpose2d = register(Op(
    name="conv_transpose2d",
    hyperparameters=("k_h", "k_w", "stride_h", "stride_w", "pad_h", "pad_w",
                     "dilation_h", "dilation_w", "groups", "out_pad_h", "out_pad_w", "bias"),
    shape=_transposed_shape,
    macs=_positions * WEIGHTS + bias * bias_ops * C_out * H_out * W_out,
    params=WEIGHTS + BIAS_PARAMS,
    c_out=None,
    description="2-D transposed convolution",
))
