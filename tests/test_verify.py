"""flopsheet verify against PyTorch, and PyTorch's own counts for the hand-computed cases.

PyTorch is required here: CI installs it with `pip install torch==2.13.0`.
FlopCounterMode counts 2 FLOPs per multiply-accumulate, for the whole batch.
"""

from __future__ import annotations

import dataclasses
import sys

import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.nn import functional
from torch.utils.flop_counter import FlopCounterMode

from flopsheet.cli import main
from flopsheet.expr import Num
from flopsheet.load import load_network
from flopsheet.verify import Size, default_sizes, verify

from support import SPECS, single_layer, write_spec


def torch_flops(module: nn.Module, *inputs: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(*inputs)
    return counter.get_total_flops()


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# The hand-computed cases, counted by PyTorch itself.

@pytest.mark.parametrize("channels, module, batch_macs, layer", [
    (4, nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1), 49_152,
     "{name: up, op: conv_transpose2d, out_channels: 6, kernel: 4, stride: 2, padding: 1}"),
    (4, nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=4), 4_608,
     "{name: up, op: conv_transpose2d, out_channels: 4, kernel: 3, stride: 2, padding: 1, "
     "output_padding: 1, groups: 4}"),
    (6, nn.ConvTranspose2d(6, 6, 2, stride=2, groups=3), 6_144,
     "{name: up, op: conv_transpose2d, out_channels: 6, kernel: 2, stride: 2, groups: 3}"),
])
def test_grouped_deconv_counts(tmp_path, channels, module, batch_macs, layer):
    x = torch.randn(2, channels, 8, 8)
    assert tuple(module(x).shape[2:]) == (16, 16)
    flops = torch_flops(module, x)
    assert flops == 2 * batch_macs
    values = single_layer(tmp_path, (channels, 8, 8), layer, "exact", "{preset: torch}")
    assert 2 * 2 * values["MACs"] == flops


def test_deconv_32_to_1_counts():
    module = nn.ConvTranspose2d(32, 1, 3)
    x = torch.randn(1, 32, 1, 1)
    assert tuple(module(x).shape) == (1, 1, 3, 3)
    assert module.weight.numel() == 288
    assert sum(p.numel() for p in module.parameters()) == 289
    # FlopCounterMode charges a transposed convolution at input resolution: 288 MACs.
    assert torch_flops(module, x) == 2 * 288


def test_deconv_stride_2_counts():
    module = nn.ConvTranspose2d(3, 1, 2, stride=2)
    x = torch.randn(1, 3, 2, 2)
    assert tuple(module(x).shape) == (1, 1, 4, 4)
    assert module.weight.numel() == 12
    assert torch_flops(module, x) == 2 * 48


def test_linear_on_5x10x3_counts():
    module = nn.Linear(3, 8)
    x = torch.randn(5, 10, 3)
    assert module.weight.numel() == 24
    assert sum(p.numel() for p in module.parameters()) == 32
    assert torch_flops(module, x) == 2 * 1200


def test_batch_norm_parameters():
    module = nn.BatchNorm2d(64).eval()
    assert sum(p.numel() for p in module.parameters()) == 128
    assert module.running_mean.numel() + module.running_var.numel() == 128
    assert torch_flops(module, torch.randn(1, 64, 56, 56)) == 0


def test_bilinear_upsampling_counts():
    x = torch.randn(8, 3, 32, 32)
    out = functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert out.numel() == 98_304
    assert torch_flops(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), x) == 0


# The verify command.

SMALL = """
model: {name: small}
shape_mode: exact
inputs:
  h: {default: 32}
  w: {default: 40}
layers:
  - {name: data, op: input, channels: 3}
  - {name: conv, op: conv2d, out_channels: 8, kernel: 3, padding: 1, stride: 2}
  - {name: bn, op: batch_norm}
  - {name: relu, op: activation, function: relu}
  - {name: pool, op: max_pool2d, kernel: 3, stride: 2, ceil_mode: true}
  - {name: avg, op: avg_pool2d, kernel: 2, stride: 1, padding: 1}
  - {name: up, op: conv_transpose2d, out_channels: 6, kernel: 4, stride: 2, padding: 1, groups: 2}
  - {name: side, op: conv2d, from: conv, out_channels: 6, kernel: 1}
  - {name: up2, op: upsample, mode: bilinear, size_of: side, from: up}
  - {name: sum, op: add, from: [up2, side]}
  - {name: gate, op: global_avg_pool}
  - {name: scaled, op: multiply, from: [sum, gate]}
  - {name: near, op: upsample, mode: nearest, scale: 2}
  - {name: back, op: max_pool2d, kernel: 2}
  - {name: cat, op: concat, from: [back, side]}
  - {name: same, op: conv2d, out_channels: 4, kernel: 4, padding: same}
  - {name: ap, op: adaptive_avg_pool, output_size: [3, 2]}
  - {name: fc, op: linear, out_features: 10, flatten: true}
  - {name: fc2, op: linear, out_features: 4, bias: false}
"""


def test_verify_small_spec_agrees(tmp_path):
    path = write_spec(tmp_path, SMALL)
    result = run("verify", str(path), "--sizes", "32x40,33x47,64")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("ok ") for line in lines)
    assert "19 layer shapes compared" in lines[0]


def test_verify_batch_and_meta(tmp_path):
    path = write_spec(tmp_path, SMALL)
    result = run("verify", str(path), "--sizes", "48x56", "--batch", "3", "--meta")
    assert result.exit_code == 0, result.output
    assert "(batch 3)" in result.output


def test_verify_reports_a_disagreeing_layer(tmp_path):
    network = load_network(write_spec(tmp_path, SMALL))
    # A conv whose cost rule is off by one MAC: PyTorch still runs the real conv.
    layers = list(network.layers)
    conv = layers[1]
    wrong_op = dataclasses.replace(conv.op, macs=conv.op.macs + Num(1))
    layers[1] = dataclasses.replace(conv, op=wrong_op)
    broken = dataclasses.replace(network, layers=tuple(layers))
    result = verify(broken, [Size(32, 40)])
    assert not result.agrees
    messages = result.sizes[0].disagreements
    assert len(messages) == 1
    assert messages[0].startswith("layer 'conv': MACs ")


def test_verify_exit_1_when_pytorch_rejects_a_layer(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: pad}
        shape_mode: exact
        layers:
          - {name: data, op: input, channels: 3}
          - {name: pool, op: max_pool2d, kernel: 2, padding: 2}
        """)
    result = run("verify", str(path), "--sizes", "32")
    assert result.exit_code == 1
    assert "layer 'pool': PyTorch rejects it: pad should be at most half" in result.output


def test_verify_skips_uneven_ideal_sizes(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: ideal}
        layers:
          - {name: data, op: input, channels: 3}
          - {name: conv, op: conv2d, out_channels: 4, kernel: 3, stride: 2, padding: 1}
          - {name: pool, op: max_pool2d, kernel: 2}
        """)
    result = run("verify", str(path), "--sizes", "64,30")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ok ")
    assert lines[1].startswith("skipped ")
    assert "has H_out = 7.5 at 30 x 30" in lines[1]

    only_uneven = run("verify", str(path), "--sizes", "30")
    assert only_uneven.exit_code == 2
    assert "no input size could be compared" in only_uneven.output


def test_verify_feedback_as_extra_input(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: loop}
        shape_mode: exact
        layers:
          - {name: data, op: input, channels: 3}
          - {name: previous, op: feedback, channels: 4, scale: "1/2", of: out}
          - {name: conv, op: conv2d, from: data, out_channels: 4, kernel: 3, stride: 2, padding: 1}
          - {name: mix, op: add, from: [conv, previous]}
          - {name: out, op: conv2d, out_channels: 4, kernel: 1}
        """)
    result = run("verify", str(path), "--sizes", "32")
    assert result.exit_code == 0, result.output
    assert "5 layer shapes compared" in result.output


def test_verify_rejects_bad_sizes(tmp_path):
    path = write_spec(tmp_path, SMALL)
    result = run("verify", str(path), "--sizes", "32y40")
    assert result.exit_code == 2
    assert "--sizes: '32y40' is not SIZE or HEIGHTxWIDTH in pixels" in result.output


def test_verify_without_torch(tmp_path, monkeypatch):
    path = write_spec(tmp_path, SMALL)
    monkeypatch.setitem(sys.modules, "torch", None)
    result = run("verify", str(path))
    assert result.exit_code == 2
    assert "pip install 'flopsheet[torch]'" in result.output
    assert "Traceback" not in result.output


def test_default_sizes_round_ideal_defaults(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: ideal}
        inputs:
          h: {default: 354}
          w: {default: 354}
        layers:
          - {name: data, op: input, channels: 3}
        """)
    assert default_sizes(load_network(path)) == [Size(352, 352), Size(224, 224), Size(320, 480)]


# Every bundled spec agrees with PyTorch (shapes on the meta device, for speed).

BUNDLED = sorted(str(p.relative_to(SPECS)) for p in list(SPECS.glob("*.yaml")) + list(SPECS.glob("zoo/*.yaml")))


@pytest.mark.parametrize("spec", BUNDLED)
def test_bundled_spec_agrees_with_pytorch(spec):
    result = verify(load_network(SPECS / spec), default_sizes(load_network(SPECS / spec)), meta=True)
    compared = [item for item in result.sizes if item.skipped is None]
    assert compared, [item.skipped for item in result.sizes]
    for item in compared:
        assert item.disagreements == [], f"{spec} at {item.size}"
