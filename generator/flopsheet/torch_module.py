"""A spec's network as a torch.nn.Module. Imports torch: import this module only when torch is needed.

Each layer becomes the PyTorch module that computes it:

- conv2d, conv_transpose2d, linear and batch_norm become LazyConv2d,
  LazyConvTranspose2d, LazyLinear and LazyBatchNorm2d, which take their input
  channels and features from the tensors they receive, so PyTorch works out
  the shapes itself. A linear layer with ``flatten`` flattens C x H x W and
  returns C_out x 1 x 1; without it, it acts on the channels at each position.
- max_pool2d and avg_pool2d become MaxPool2d and AvgPool2d (with ceil_mode);
  adaptive_avg_pool and global_avg_pool become AdaptiveAvgPool2d.
- upsample becomes Upsample by a factor, or F.interpolate to the size of the
  ``size_of`` layer (bilinear with align_corners=False, or nearest).
- add and multiply use the ``+`` and ``*`` operators (multiply broadcasts),
  concat is torch.cat on the channels, and an activation is the module its
  ``function`` names (ReLU, Sigmoid, ...; nn.Identity for an unknown name).
- input and feedback layers are the module's inputs, in spec order.

A half-pixel padding ('same' with an even kernel) becomes an explicit uneven
pad before the layer, the smaller half first.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional

from .errors import FlopsheetError
from .network import Layer, Network


class NoTorchEquivalent(FlopsheetError):
    """A layer that PyTorch has no module for, such as a transposed convolution with half-pixel padding."""


class LayerFailed(Exception):
    """PyTorch rejected a layer that flopsheet accepted."""


def _integer(value: Fraction, field: str, layer: Layer) -> int:
    if Fraction(value).denominator != 1:
        raise NoTorchEquivalent(f"layer {layer.name!r}: {field} = {float(value):g} is not a whole "
                                "number, and PyTorch has no equivalent")
    return int(value)


def _pair(layer: Layer, name: str) -> tuple[int, int]:
    return (_integer(layer.hyper[f"{name}_h"], f"{name}_h", layer),
            _integer(layer.hyper[f"{name}_w"], f"{name}_w", layer))


def _padded(layer: Layer, make: Callable[[tuple[int, int]], nn.Module], fill: float = 0.0) -> nn.Module:
    """Build a windowed layer; a half-pixel padding becomes an explicit uneven pad in front of it."""
    pad_h, pad_w = Fraction(layer.hyper["pad_h"]), Fraction(layer.hyper["pad_w"])
    if pad_h.denominator == 1 and pad_w.denominator == 1:
        return make((int(pad_h), int(pad_w)))
    top, left = int(pad_h), int(pad_w)
    bottom, right = int(2 * pad_h) - top, int(2 * pad_w) - left
    return nn.Sequential(nn.ConstantPad2d((left, right, top, bottom), fill), make((0, 0)))


class Sum(nn.Module):
    """Element-wise sum of the inputs, with the + operator."""

    def forward(self, *inputs):
        out = inputs[0]
        for other in inputs[1:]:
            out = out + other
        return out


class Product(nn.Module):
    """Element-wise product of the inputs, with the * operator (broadcasting)."""

    def forward(self, *inputs):
        out = inputs[0]
        for other in inputs[1:]:
            out = out * other
        return out


class Concat(nn.Module):
    """Concatenation along the channels."""

    def forward(self, *inputs):
        return torch.cat(inputs, dim=1)


class ResizeTo(nn.Module):
    """Interpolation to the spatial size of a second input (upsample with ``size_of``)."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x, reference):
        options = {"align_corners": False} if self.mode == "bilinear" else {}
        return functional.interpolate(x, size=tuple(reference.shape[-2:]), mode=self.mode, **options)


class PositionLinear(nn.Module):
    """A linear layer on the channels at each position, as nn.Linear acts on the last axis."""

    def __init__(self, out_features: int, bias: bool):
        super().__init__()
        self.linear = nn.LazyLinear(out_features, bias=bias)

    def forward(self, x):
        return self.linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "silu": nn.SiLU, "elu": nn.ELU,
    "prelu": nn.PReLU, "softmax": lambda: nn.Softmax(dim=1),
}


def _convolution(layer: Layer) -> nn.Module:
    hyper = layer.hyper
    if layer.op.name == "conv2d":
        return _padded(layer, lambda pads: nn.LazyConv2d(
            int(layer.out_channels), _pair(layer, "k"), stride=_pair(layer, "stride"), padding=pads,
            dilation=_pair(layer, "dilation"), groups=int(hyper["groups"]), bias=bool(hyper["bias"])))
    return nn.LazyConvTranspose2d(
        int(layer.out_channels), _pair(layer, "k"), stride=_pair(layer, "stride"),
        padding=_pair(layer, "pad"), output_padding=_pair(layer, "out_pad"),
        groups=int(hyper["groups"]), bias=bool(hyper["bias"]), dilation=_pair(layer, "dilation"))


def _pooling(layer: Layer) -> nn.Module:
    hyper, op = layer.hyper, layer.op.name
    if op == "max_pool2d":
        return _padded(layer, lambda pads: nn.MaxPool2d(
            _pair(layer, "k"), stride=_pair(layer, "stride"), padding=pads,
            dilation=_pair(layer, "dilation"), ceil_mode=bool(hyper["ceil_mode"])), fill=float("-inf"))
    if op == "avg_pool2d":
        return _padded(layer, lambda pads: nn.AvgPool2d(
            _pair(layer, "k"), stride=_pair(layer, "stride"), padding=pads,
            ceil_mode=bool(hyper["ceil_mode"])))
    if op == "adaptive_avg_pool":
        return nn.AdaptiveAvgPool2d(_pair(layer, "out"))
    return nn.AdaptiveAvgPool2d(1)


def _linear(layer: Layer) -> nn.Module:
    out_features, bias = int(layer.out_channels), bool(layer.hyper["bias"])
    if layer.hyper["flatten"]:
        return nn.Sequential(nn.Flatten(1), nn.LazyLinear(out_features, bias=bias),
                             nn.Unflatten(1, (out_features, 1, 1)))
    return PositionLinear(out_features, bias)


def _upsample(layer: Layer) -> nn.Module:
    mode = "bilinear" if "bilinear" in layer.op.name else "nearest"
    if layer.op.name.endswith("_to"):
        return ResizeTo(mode)
    options = {"align_corners": False} if mode == "bilinear" else {}
    return nn.Upsample(scale_factor=(float(layer.hyper["scale_h"]), float(layer.hyper["scale_w"])),
                       mode=mode, **options)


def build_layer(layer: Layer) -> nn.Module | None:
    """Return the module that computes a layer; None for inputs and feedback sources."""
    op = layer.op.name
    if op in ("input", "feedback"):
        return None
    if op in ("conv2d", "conv_transpose2d"):
        return _convolution(layer)
    if op in ("max_pool2d", "avg_pool2d", "adaptive_avg_pool", "global_avg_pool"):
        return _pooling(layer)
    if op == "batch_norm":
        return nn.LazyBatchNorm2d()
    if op == "linear":
        return _linear(layer)
    if op.startswith("upsample_"):
        return _upsample(layer)
    if op in ("add", "multiply", "concat"):
        return {"add": Sum, "multiply": Product, "concat": Concat}[op]()
    if op == "activation":
        function = layer.label.removeprefix("activation (").removesuffix(")").lower()
        return ACTIVATIONS.get(function, nn.Identity)()
    raise NoTorchEquivalent(f"layer {layer.name!r}: op {op!r} has no PyTorch module in flopsheet")


class SpecModule(nn.Module):
    """A spec's network; ``forward`` takes one tensor per input or feedback layer, in spec order."""

    def __init__(self, network: Network):
        super().__init__()
        self.network = network
        self.steps = nn.ModuleDict()
        self.keys: dict[str, str] = {}
        for index, layer in enumerate(network.layers):
            module = build_layer(layer)
            if module is not None:
                # Layer names contain dots, which module names may not.
                key = f"layer{index}"
                self.steps[key] = module
                self.keys[layer.name] = key
        self.sources = [layer for layer in network.layers if layer.op.name in ("input", "feedback")]

    def input_shapes(self, h: int, w: int) -> list[tuple[int, int, int]]:
        """Return the (C, H, W) of each tensor that ``forward`` takes at input size h x w."""
        shapes = []
        for layer in self.sources:
            scale_h = layer.hyper.get("scale_h", Fraction(1))
            scale_w = layer.hyper.get("scale_w", Fraction(1))
            shapes.append((int(layer.out_channels), _integer(h * scale_h, "feedback height", layer),
                           _integer(w * scale_w, "feedback width", layer)))
        return shapes

    def parameter_count(self, layer: Layer) -> int:
        """Return the parameters of one layer's module (0 for a layer without one)."""
        key = self.keys.get(layer.name)
        return 0 if key is None else sum(p.numel() for p in self.steps[key].parameters())

    def trace(self, tensors: Sequence[torch.Tensor], around: Callable | None = None) -> dict:
        """Run every layer once and return each layer's output by name.

        ``around(layer)``, when given, returns a context manager that wraps
        that layer's call (to count its operations). Raises LayerFailed when
        PyTorch rejects a layer.
        """
        outputs = {layer.name: tensor for layer, tensor in zip(self.sources, tensors)}
        for layer in self.network.layers:
            if layer.name in outputs:
                continue
            arguments = [outputs[name] for name in layer.inputs]
            if layer.size_of is not None:
                arguments.append(outputs[layer.size_of])
            context = around(layer) if around is not None else contextlib.nullcontext()
            try:
                with context:
                    outputs[layer.name] = self.steps[self.keys[layer.name]](*arguments)
            except RuntimeError as error:
                text = str(error).strip()
                first_line = text.splitlines()[0] if text else type(error).__name__
                raise LayerFailed(f"layer {layer.name!r}: PyTorch rejects it: {first_line}") from None
        return outputs

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.trace(tensors)[self.network.layers[-1].name]
