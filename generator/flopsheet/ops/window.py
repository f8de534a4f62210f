"""Output size of a sliding window (convolution and pooling) along one axis.

With ``q = 2·pad - dilation·(k - 1)``:

- exact mode: ``floor((H + q - 1) / s) + 1``, as frameworks compute it;
- ideal mode: ``H/s + floor((q - 1) / s) + 1``, which equals the exact size
  whenever ``s`` divides ``H`` and stays linear in ``H`` (``H/2`` for a padded
  3 x 3 stride-2 conv and for 2 x 2 pooling, ``H - 4`` for an unpadded 5 x 5 conv).

Ceil mode (pooling) rounds up instead, but, as PyTorch and Caffe do, drops a
last window that would start in the right padding.
"""

from __future__ import annotations

from ..expr import Expr, ceil, floor, minimum, select


def window_out(size: Expr, k: Expr, stride: Expr, pad: Expr, dilation: Expr,
               mode: str, ceil_mode: Expr | int = 0) -> Expr:
    """Return the output size along one axis; ``ceil_mode`` is a 0/1 flag or its cell."""
    q = 2 * pad - dilation * (k - 1)
    if mode == "ideal":
        floored = size / stride + floor((q - 1) / stride) + 1
        if ceil_mode == 0:
            return floored
        return select(ceil_mode, size / stride + ceil((q - 1) / stride) + 1, floored)
    floored = floor((size + q - 1) / stride) + 1
    if ceil_mode == 0:
        return floored
    rounded_up = ceil((size + q - 1) / stride) + 1
    last_start_inside = floor((size + pad - 1) / stride) + 1
    return select(ceil_mode, minimum(rounded_up, last_start_inside), floored)
