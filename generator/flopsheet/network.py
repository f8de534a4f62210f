"""A network after loading: its inputs, conventions and layers in order, every block expanded."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Mapping

from .expr import Expr
from .ops import Op


@dataclass(frozen=True)
class InputParam:
    """An input of the network (``h``, ``w``, ``b`` or a declared parameter)."""

    name: str
    default: Fraction
    description: str


@dataclass(frozen=True)
class Layer:
    """One layer with its hyperparameters resolved to numbers."""

    name: str
    op: Op
    inputs: tuple[str, ...]
    hyper: Mapping[str, Fraction]
    # The editable output channels of ops whose C_out is not derived from C_in.
    out_channels: Fraction | None
    size_of: str | None
    # feedback: the later layer whose output at the previous time step this layer stands for.
    feedback_of: str | None
    block: str
    repeat: Expr | None
    share_weights: bool
    line: int | None
    label: str
    # Value cells ("H_out", "MACs", ...) typed over with a number in an edited workbook: each
    # replaces the cell's formula, so the row and its consumers use the typed value.
    fixed_values: Mapping[str, Fraction] = field(default_factory=dict)

    @property
    def producer(self) -> str | None:
        """Return the first producer, whose spatial size the layer takes."""
        return self.inputs[0] if self.inputs else None


@dataclass(frozen=True)
class Claim:
    """A figure a source states, with the layers it covers resolved."""

    name: str
    kind: str
    value: Expr
    terms: Expr | None
    # Layer names the figure covers, or None for the whole network.
    layers: tuple[str, ...] | None
    scope: str
    note: str
    line: int | None
    per_pass: bool = False
    # Inputs at which the source evaluated the figure; the comparison is then numeric.
    at: Mapping[str, Fraction] | None = None


@dataclass(frozen=True)
class Network:
    """A validated spec, ready to be computed and written."""

    name: str
    title: str
    source: str
    description: str
    shape_mode: str
    inputs: tuple[InputParam, ...]
    conventions: Mapping[str, Fraction]
    layers: tuple[Layer, ...]
    path: Path
    text: str
    claims: tuple[Claim, ...] = ()
    # The convention preset the values start from (flopsheet.presets), None for the defaults.
    preset: str | None = None

    def input_defaults(self) -> dict[str, Fraction]:
        """Return each input's default value by name."""
        return {p.name: p.default for p in self.inputs}

    def where(self, line: int | None) -> str:
        """Format a line of this network's spec file as ``path:line``."""
        return f"{self.path}:{line}" if line else str(self.path)
