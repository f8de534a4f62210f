"""Synthetic specs of any depth: residual and branching units in stages, for the benchmarks.

A spec of ``n`` layers has an input, stages of 20 units each and a head. A stage
starts with a transition (a 3 x 3 convolution to the stage's channels, and 2 x 2
average pooling in the first five stages), then alternates two units:

- ``residual`` (7 layers): conv, batch norm, ReLU, conv, batch norm, an add of the
  unit's input, ReLU;
- ``branch`` (6 layers): a 1 x 1 and a 3 x 3 convolution and a 3 x 3 max pool
  of the same input, their concat, a 1 x 1 convolution back to the stage's
  channels, batch norm.

Every layer of a stage carries the stage's block label, so the workbook has a
subtotal row per stage. Single ReLU layers pad the count to exactly ``n``.
"""

from __future__ import annotations

from pathlib import Path

UNITS_PER_STAGE = 20
HEAD_LAYERS = 2
CHANNELS = (64, 128, 256, 512)
DOWNSAMPLED_STAGES = 5

BLOCKS = """\
blocks:
  residual:
    params: {channels: 64}
    layers:
      - {name: conv_a, op: conv2d, out_channels: channels, kernel: 3, padding: 1}
      - {name: bn_a, op: batch_norm}
      - {name: relu_a, op: activation, function: relu}
      - {name: conv_b, op: conv2d, out_channels: channels, kernel: 3, padding: 1}
      - {name: bn_b, op: batch_norm}
      - {name: sum, op: add, from: [bn_b, x]}
      - {name: relu, op: activation, function: relu}
  branch:
    params: {channels: 64}
    layers:
      - {name: one, op: conv2d, out_channels: "channels/2", kernel: 1, from: x}
      - {name: three, op: conv2d, out_channels: "channels/2", kernel: 3, padding: 1, from: x}
      - {name: pool, op: max_pool2d, kernel: 3, stride: 1, padding: 1, from: x}
      - {name: cat, op: concat, from: [one, three, pool]}
      - {name: reduce, op: conv2d, out_channels: channels, kernel: 1}
      - {name: bn, op: batch_norm}
"""
UNIT_LAYERS = {"residual": 7, "branch": 6}


def spec_text(layers: int, name: str = "synthetic") -> str:
    """Return the YAML text of a synthetic spec with exactly ``layers`` layers (at least 4)."""
    if layers < 4:
        raise ValueError(f"a synthetic spec needs at least 4 layers, not {layers}")
    lines = [
        f"model: {{name: {name}, title: Synthetic network of {layers} layers}}",
        "shape_mode: ideal",
        "inputs:",
        "  h: {default: 224}",
        "  w: {default: 224}",
        "  b: {default: 8}",
        BLOCKS.rstrip("\n"),
        "layers:",
        "  - {name: image, op: input, channels: 3}",
    ]
    budget = layers - 1 - HEAD_LAYERS
    stage = 0
    while budget > 0:
        stage += 1
        channels = CHANNELS[min(stage - 1, len(CHANNELS) - 1)]
        label = f"stage{stage}"
        transition = 2 if stage <= DOWNSAMPLED_STAGES else 1
        if budget < transition + UNIT_LAYERS["residual"]:
            break
        lines.append(f"  - {{name: s{stage}_conv, op: conv2d, out_channels: {channels}, kernel: 3, "
                     f"padding: 1, block: {label}}}")
        if transition == 2:
            lines.append(f"  - {{name: s{stage}_pool, op: avg_pool2d, kernel: 2, block: {label}}}")
        budget -= transition
        for unit in range(UNITS_PER_STAGE):
            kind = "residual" if unit % 2 == 0 else "branch"
            if budget < UNIT_LAYERS[kind]:
                break
            lines.append(f"  - {{name: s{stage}_u{unit}, use: {kind}, with: {{channels: {channels}}}, "
                         f"block: {label}}}")
            budget -= UNIT_LAYERS[kind]
    for index in range(budget):
        lines.append(f"  - {{name: pad{index}, op: activation, function: relu}}")
    lines.append("  - {name: gap, op: global_avg_pool, block: head}")
    lines.append("  - {name: fc, op: linear, out_features: 1000, flatten: true, block: head}")
    return "\n".join(lines) + "\n"


def write_spec(folder: Path, layers: int) -> Path:
    """Write ``synthetic-LAYERS.yaml`` into ``folder`` and return its path."""
    path = Path(folder) / f"synthetic-{layers}.yaml"
    path.write_text(spec_text(layers, name=f"synthetic-{layers}"), encoding="utf-8")
    return path
