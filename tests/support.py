"""Helpers for tests: write small specs to files and load them."""

from __future__ import annotations

import textwrap
from pathlib import Path

from flopsheet.compute import evaluate
from flopsheet.load import load_network

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specs"


def write_spec(folder: Path, text: str, name: str = "net.yaml") -> Path:
    """Write a dedented spec text to ``folder/name`` and return its path."""
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def single_layer(folder: Path, input_shape: tuple[int, int, int], layer: str,
                 mode: str = "ideal", conventions: str = "{}", extra_inputs: str = "") -> dict:
    """Load a network of an input (C, H, W) and one layer; return that layer's values at the defaults."""
    channels, height, width = input_shape
    path = write_spec(folder, f"""
        model: {{name: probe}}
        shape_mode: {mode}
        inputs:
          h: {{default: {height}}}
          w: {{default: {width}}}
          {extra_inputs}
        conventions: {conventions}
        layers:
          - {{name: data, op: input, channels: {channels}}}
          - {layer}
        """)
    network = load_network(path)
    return evaluate(network)[-1]
