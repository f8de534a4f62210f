"""Convention presets: the values of every convention that reproduce another tool's count.

Each preset sets all conventions, so a preset does not change when a default
does. The rules were read from each tool's source at the version named, and
checked by running that version on single layers (docs/conventions.md has
the table and the details). Every tool counts for the whole batch, and
flopsheet counts per image, so a tool's figure is the preset's total times the
batch size. ptflops is the exception: it reports per image and counts some
ops once per image of the batch (docs/conventions.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping

from . import conventions


@dataclass(frozen=True)
class Preset:
    """A named set of convention values and the tool version it reproduces."""

    name: str
    tool: str
    description: str
    values: Mapping[str, Fraction]


def _values(**values: int) -> dict[str, Fraction]:
    missing = set(conventions.BY_NAME) - set(values)
    unknown = set(values) - set(conventions.BY_NAME)
    if missing or unknown:
        raise ValueError(f"a preset must set every convention: missing {sorted(missing)}, "
                         f"unknown {sorted(unknown)}")
    return {name: Fraction(value) for name, value in values.items()}


# Tools that do not count bias, pooling, element-wise ops or activations share these zeros.
_NOTHING_ELSE = dict(pool_window_ops=0, pool_input_ops=0, pool_output_ops=0, avg_output_ops=0,
                     global_pool_ops=0, bn_ops=0, bn_batch_ops=0, bn_channel_ops=0,
                     bilinear_ops=0, nearest_ops=0, add_ops=0, multiply_ops=0, activation_ops=0)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    Preset("notes", "the hand-derived reference notes",
           "The defaults: bias left out, pooling one operation per window element, batch norm "
           "with training statistics H·W·C·(b + 1)·2, bilinear upsampling 8 per output element, "
           "adds and multiplies 1, transposed convolutions at output resolution.",
           {c.name: c.default for c in conventions.CONVENTIONS}),
    Preset("fvcore", "fvcore 0.1.5.post20221221 (FlopCountAnalysis, model in eval mode)",
           "Convolutions and linear layers without bias, transposed convolutions at input "
           "resolution, batch norm 2 per element, adaptive and global average pooling 1 per "
           "input element, bilinear upsampling 4 and nearest 1 per output element; max and "
           "average pooling, adds, multiplies and activations are skipped. Its 'flops' are MACs.",
           _values(**{**_NOTHING_ELSE, "bias_params": 1, "bias_ops": 0, "global_pool_ops": 1,
                      "bn_ops": 2, "bn_params": 2, "bilinear_ops": 4, "nearest_ops": 1,
                      "deconv_at_output": 0, "flops_per_mac": 1})),
    # ptflops counts pooling, ReLU-family activations and upsampling twice: once in the
    # module's hook and once in the torch.nn.functional call that the module makes, which
    # ptflops also patches (count_functional, on by default). At batch 1, its default
    # input, that is 2 per element; the values below reproduce it.
    Preset("ptflops", "ptflops 0.7.5 (get_model_complexity_info, pytorch backend, batch 1)",
           "Bias 1 per output element, transposed convolutions at input resolution, batch norm "
           "2 per element; pooling 2 per input element, upsampling 2 per output element and "
           "ReLU-family activations 2 per element, as ptflops counts them twice; the + and * "
           "operators are not seen.",
           _values(**{**_NOTHING_ELSE, "bias_params": 1, "bias_ops": 1, "pool_input_ops": 2,
                      "global_pool_ops": 2, "bn_ops": 2, "bn_params": 2, "bilinear_ops": 2,
                      "nearest_ops": 2, "activation_ops": 2, "deconv_at_output": 0,
                      "flops_per_mac": 2})),
    Preset("thop", "thop 0.1.1.post2209072238 (profile)",
           "No bias, transposed convolutions at output resolution, max pooling free, average "
           "pooling 1 per output element (plus 1 per input element when adaptive or global), "
           "batch norm 4 per element, bilinear upsampling 11 and nearest 1 per output element.",
           _values(**{**_NOTHING_ELSE, "bias_params": 1, "bias_ops": 0, "avg_output_ops": 1,
                      "global_pool_ops": 1, "bn_ops": 4, "bn_params": 2, "bilinear_ops": 11,
                      "nearest_ops": 1, "deconv_at_output": 1, "flops_per_mac": 2})),
    Preset("torchinfo", "torchinfo 1.8.0 (summary, total mult-adds)",
           "Every parameter of a layer times its output positions: bias 1 per output element, "
           "transposed convolutions at output resolution, batch norm 2 per channel; nothing "
           "without parameters is charged.",
           _values(**{**_NOTHING_ELSE, "bias_params": 1, "bias_ops": 1, "bn_channel_ops": 2,
                      "bn_params": 2, "deconv_at_output": 1, "flops_per_mac": 2})),
    Preset("torch", "torch.utils.flop_counter.FlopCounterMode of PyTorch 2.13.0",
           "Only convolutions and matrix products, without bias; transposed convolutions at "
           "input resolution. FlopCounterMode reports 2 FLOPs per MAC, so its figure is the "
           "FLOPs total (and the MACs are half of it).",
           _values(**{**_NOTHING_ELSE, "bias_params": 1, "bias_ops": 0, "bn_params": 2,
                      "deconv_at_output": 0, "flops_per_mac": 2})),
)}


def preset_values(name: str) -> dict[str, Fraction]:
    """Return every convention's value under preset ``name``; raise KeyError for an unknown name."""
    return dict(PRESETS[name].values)
