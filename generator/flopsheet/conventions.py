"""Counting conventions: the choices that make papers and tools disagree about a network's cost.

Cost is counted in multiply-accumulates (MACs) per input image, unless a
convention below charges the batch (batch norm's training statistics do). Each
convention is a number, so every cost and parameter formula stays a polynomial
in the convention cells, and a reader can change a convention in the workbook
and watch the totals move. The defaults are the way the reference notes count:

- a convolution costs ``H_out·W_out·C_out·k_h·k_w·C_in/groups`` and bias is
  neither charged nor counted as a parameter;
- pooling costs ``H_out·W_out·C·k_h·k_w`` (one operation per window element);
- batch norm costs ``H·W·C·(b + 1)·2`` and has ``2·C`` parameters;
- bilinear upsampling costs 8 operations per output element, an element-wise
  add or multiply 1, activations 0;
- a transposed convolution is charged at its output resolution;
- the FLOPs total is 2 FLOPs per MAC.

Named sets of values that reproduce other tools (fvcore, ptflops, thop,
torchinfo, torch.utils.flop_counter) are in ``flopsheet.presets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping


@dataclass(frozen=True)
class Convention:
    """One counting choice: a workbook name, its default and what it means."""

    name: str
    default: Fraction
    description: str


CONVENTIONS: tuple[Convention, ...] = (
    Convention("bias_params", Fraction(0),
               "1 counts a layer's bias terms as parameters, 0 leaves them out"),
    Convention("bias_ops", Fraction(0),
               "Operations charged per output element for adding a bias"),
    Convention("pool_window_ops", Fraction(1),
               "Pooling: operations per output element and per window element"),
    Convention("pool_input_ops", Fraction(0),
               "Pooling: operations per input element"),
    Convention("pool_output_ops", Fraction(0),
               "Pooling: operations per output element"),
    Convention("avg_output_ops", Fraction(0),
               "Average pooling of every kind (window, adaptive, global): operations per output "
               "element, for the division by the window size"),
    Convention("global_pool_ops", Fraction(0),
               "Global and adaptive average pooling: operations per input element"),
    Convention("bn_ops", Fraction(2),
               "Batch norm: operations per element of one image (normalise, scale and shift)"),
    Convention("bn_batch_ops", Fraction(2),
               "Batch norm: operations per element of the whole batch (training mean and variance)"),
    Convention("bn_channel_ops", Fraction(0),
               "Batch norm: operations per channel of one image, whatever its size"),
    Convention("bn_params", Fraction(2),
               "Batch norm: parameters per channel (2 for scale and shift)"),
    Convention("bilinear_ops", Fraction(8),
               "Bilinear upsampling: operations per output element"),
    Convention("nearest_ops", Fraction(0),
               "Nearest upsampling: operations per output element"),
    Convention("add_ops", Fraction(1),
               "Element-wise add: operations per output element and per extra input"),
    Convention("multiply_ops", Fraction(1),
               "Element-wise multiply: operations per output element and per extra input"),
    Convention("activation_ops", Fraction(0),
               "Activations (ReLU, sigmoid, softmax): operations per element"),
    Convention("deconv_at_output", Fraction(1),
               "Transposed convolution: 1 charges it at output resolution, 0 at input resolution"),
    Convention("flops_per_mac", Fraction(2),
               "FLOPs per MAC in the FLOPs total: 2 counts the multiply and the add, "
               "1 reports MACs as FLOPs (as fvcore does)"),
)

BY_NAME: Mapping[str, Convention] = {c.name: c for c in CONVENTIONS}


def resolve(overrides: Mapping[str, Fraction]) -> dict[str, Fraction]:
    """Return every convention's value: the defaults, replaced by ``overrides``."""
    values = {c.name: c.default for c in CONVENTIONS}
    values.update(overrides)
    return values
