"""Cross-check a spec against PyTorch: build a torch.nn.Module from it, run it and compare.

The module is built from the spec's layers alone: lazy modules (LazyConv2d,
LazyLinear, LazyBatchNorm2d, ...) take their input channels and features from
the tensors they receive, so PyTorch, not flopsheet, works out every shape.
Weights are random. At each input size the module runs once, and three
things are compared with flopsheet's values under the ``torch`` preset:

- every layer's output shape (C x H x W);
- every layer's parameters, ``sum(p.numel())`` (biases and batch norm's scale
  and shift; running statistics are buffers, as in flopsheet);
- every layer's MACs: ``torch.utils.flop_counter.FlopCounterMode`` counts
  2 FLOPs per multiply-accumulate of convolutions and matrix products, for the
  whole batch, so its count divided by 2·batch is compared.

A layer with ``repeat: R`` runs once; its FLOPs are multiplied by R and its
parameters too unless the passes share their weights. A feedback source
(the previous time step's output of a recurrent network) becomes an extra
input of the module, so one time step is checked. In the ``ideal`` shape mode
only sizes at which every stride divides the map evenly are meaningful: there
the ideal sizes equal PyTorch's, and other sizes are skipped.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Sequence

from .compute import evaluate
from .errors import FlopsheetError
from .network import Layer, Network
from .presets import preset_values

INSTALL_HINT = "pip install 'flopsheet[torch]'"


class TorchMissing(FlopsheetError):
    """PyTorch is not installed, so a spec cannot be checked against it."""


def import_torch():
    """Return the torch module, or raise TorchMissing with the install command."""
    try:
        import torch
    except ImportError:  # the optional dependency: pip install 'flopsheet[torch]'
        raise TorchMissing(f"PyTorch is not installed, so specs cannot be checked against it: "
                           f"run {INSTALL_HINT}") from None
    return torch


@dataclass(frozen=True)
class Size:
    """An input size to check at."""

    h: int
    w: int

    def __str__(self) -> str:
        return f"{self.h} x {self.w}"


@dataclass
class SizeResult:
    """The comparison at one input size: what was compared and every disagreement found."""

    size: Size
    batch: int
    skipped: str | None = None
    layers: int = 0
    params: tuple[Fraction, int] | None = None
    macs: tuple[Fraction, Fraction] | None = None
    disagreements: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return self.skipped is None and not self.disagreements


@dataclass
class SpecResult:
    """The comparisons of one spec at every size."""

    network: Network
    sizes: list[SizeResult]

    @property
    def agrees(self) -> bool:
        return not any(s.disagreements for s in self.sizes)

    @property
    def compared(self) -> bool:
        return any(s.skipped is None for s in self.sizes)


def default_sizes(network: Network) -> list[Size]:
    """Return the spec's default input size, 224 x 224 and 320 x 480, without repeats.

    In the ideal shape mode the default size is rounded to the nearest multiple
    of 32, where the strides of most networks divide the map evenly.
    """
    defaults = network.input_defaults()
    first = (defaults["h"], defaults["w"])
    if network.shape_mode == "ideal":
        first = tuple(max(32, 32 * round(Fraction(side) / 32)) for side in first)
    sizes = []
    for h, w in (first, (224, 224), (320, 480)):
        if Fraction(h).denominator == 1 and Fraction(w).denominator == 1:
            size = Size(int(h), int(w))
            if size not in sizes:
                sizes.append(size)
    return sizes


def verify(network: Network, sizes: Sequence[Size], batch: int = 1, meta: bool = False) -> SpecResult:
    """Compare the network with PyTorch at each size.

    With ``meta``, tensors live on PyTorch's meta device: shapes and counts are
    computed without running the arithmetic. A size at which the network has no
    PyTorch equivalent (too small, or uneven in the ideal shape mode) is skipped
    with the reason.
    """
    import_torch()
    counted = dataclasses.replace(network, conventions=preset_values("torch"), preset="torch")
    results = []
    for size in sizes:
        inputs = dict(network.input_defaults(), h=Fraction(size.h), w=Fraction(size.w), b=Fraction(batch))
        rows = evaluate(counted, inputs)
        problem = _size_problem(network, rows, size)
        if problem is not None:
            message = f"{problem}: choose other sizes with --sizes"
            results.append(SizeResult(size, batch, skipped=message))
            continue
        results.append(_compare(network, rows, size, batch, meta))
    return SpecResult(network, results)


def _size_problem(network: Network, rows, size: Size) -> str | None:
    """Say why the network has no PyTorch equivalent at this size, or return None."""
    for layer, row in zip(network.layers, rows):
        for column in ("H_out", "W_out"):
            value = Fraction(row[column])
            if value <= 0:
                return f"layer {layer.name!r} has {column} = {float(value):g} at {size}: the input is too small"
            if value.denominator != 1:
                hint = (" (in the ideal shape mode, a stride does not divide the map: multiples of 32 "
                        "suit most networks)" if network.shape_mode == "ideal" else "")
                return f"layer {layer.name!r} has {column} = {float(value):g} at {size}, not a whole number{hint}"
    return None


def _compare(network: Network, rows, size: Size, batch: int, meta: bool) -> SizeResult:
    torch = import_torch()
    from torch.utils.flop_counter import FlopCounterMode

    from .torch_module import LayerFailed, SpecModule

    result = SizeResult(size, batch)
    torch.manual_seed(0)
    with torch.device("meta" if meta else "cpu"):
        model = SpecModule(network)
        tensors = [torch.randn(batch, *shape) for shape in model.input_shapes(size.h, size.w)]
    model.eval()

    flops: dict[str, int] = {}

    @contextlib.contextmanager
    def count(layer: Layer):
        with FlopCounterMode(display=False) as counter:
            yield
        flops[layer.name] = counter.get_total_flops()

    try:
        with torch.no_grad():
            outputs = model.trace(tensors, count)
    except LayerFailed as error:
        result.disagreements.append(str(error))
        return result

    params_total, macs_total, torch_params, torch_macs = Fraction(0), Fraction(0), 0, Fraction(0)
    for layer, row in zip(network.layers, rows):
        repeat = Fraction(row["Repeat"]) if row["Repeat"] is not None else Fraction(1)
        params = model.parameter_count(layer) * (1 if layer.share_weights else repeat)
        macs = Fraction(flops.get(layer.name, 0), 2 * batch) * repeat
        shape = tuple(outputs[layer.name].shape[1:])
        result.disagreements.extend(_layer_disagreements(layer, row, shape, params, macs))
        params_total += row["Params"]
        macs_total += row["MACs"]
        torch_params += params
        torch_macs += macs
    result.layers = len(network.layers)
    result.params = (params_total, torch_params)
    result.macs = (macs_total, torch_macs)
    return result


def _layer_disagreements(layer: Layer, row, shape: tuple, params, macs) -> list[str]:
    """Return a message for each of a layer's output shape, parameters and MACs that PyTorch contradicts."""
    found = []
    expected = tuple(int(row[c]) for c in ("C_out", "H_out", "W_out"))
    if shape != expected:
        found.append(f"layer {layer.name!r}: output {_shape(expected)} in flopsheet, {_shape(shape)} in PyTorch")
    if params != row["Params"]:
        found.append(f"layer {layer.name!r}: parameters {_number(row['Params'])} in flopsheet, "
                     f"{_number(params)} in PyTorch")
    if macs != row["MACs"]:
        found.append(f"layer {layer.name!r}: MACs {_number(row['MACs'])} in flopsheet, {_number(macs)} in "
                     "PyTorch (FlopCounterMode FLOPs / 2 / batch)")
    return found


def _shape(shape) -> str:
    return " x ".join(str(d) for d in shape)


def _number(value) -> str:
    value = Fraction(value)
    return f"{value.numerator:,}" if value.denominator == 1 else f"{float(value):,.3f}"


def summary(result: SpecResult) -> list[str]:
    """Return the lines that report one spec's comparisons."""
    lines = []
    for item in result.sizes:
        where = f"{result.network.path} at {item.size} (batch {item.batch})"
        if item.skipped:
            lines.append(f"skipped {where}: {item.skipped}")
            continue
        if item.params is None:
            lines.append(f"DISAGREES {where}")
        else:
            mark = "ok" if item.agrees else "DISAGREES"
            lines.append(f"{mark} {where}: parameters {_number(item.params[0])} (PyTorch "
                         f"{_number(item.params[1])}), MACs {_number(item.macs[0])} (PyTorch "
                         f"{_number(item.macs[1])}), {item.layers} layer shapes compared")
        lines.extend(f"    {message}" for message in item.disagreements)
    return lines


def parse_sizes(text: str) -> list[Size]:
    """Parse '224,320x480' into sizes; raise ValueError naming the bad item."""
    sizes = []
    for item in text.split(","):
        item = item.strip().lower()
        height, sep, width = item.partition("x")
        if not (height.isdigit() and (not sep or width.isdigit())) or int(height) == 0 or (sep and int(width) == 0):
            raise ValueError(f"{item!r} is not SIZE or HEIGHTxWIDTH in pixels")
        sizes.append(Size(int(height), int(width) if sep else int(height)))
    return sizes


def torch_version() -> str:
    """Return the installed PyTorch version."""
    return import_torch().__version__
