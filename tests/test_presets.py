"""Convention presets: hand-computed layer costs under each tool's rules, and convention cells in LibreOffice.

Expected values are hand arithmetic written out below. The tools' rules come
from their sources at the versions docs/conventions.md names: fvcore
0.1.5.post20221221, ptflops 0.7.5, thop 0.1.1.post2209072238, torchinfo
1.8.0 and torch.utils.flop_counter of PyTorch 2.13.0. MACs exclude bias
unless a case adds it.
"""

from __future__ import annotations

import json
from fractions import Fraction

import openpyxl
import pytest
from click.testing import CliRunner

import oracles
from flopsheet import conventions
from flopsheet.cli import main
from flopsheet.compute import evaluate
from flopsheet.load import load_network
from flopsheet.presets import PRESETS, preset_values
from flopsheet.workbook import write_workbook

from support import single_layer, write_spec


def preset(name: str, **overrides) -> str:
    """Return a spec's conventions mapping: a preset with some values changed."""
    items = [f"preset: {name}"] + [f"{key}: {value}" for key, value in overrides.items()]
    return "{" + ", ".join(items) + "}"


def test_every_preset_sets_every_convention():
    for name, item in PRESETS.items():
        assert set(item.values) == set(conventions.BY_NAME), name


def test_notes_preset_is_the_defaults():
    assert preset_values("notes") == conventions.resolve({})


# Transposed convolutions.

def test_deconv_1x1_input_to_3x3(tmp_path):
    # ConvTranspose2d(32 -> 1, kernel 3) on 1 x 32 x 1 x 1: (1 - 1)·1 + (3 - 1) + 1 = 3.
    layer = "{name: up, op: conv_transpose2d, out_channels: 1, kernel: 3}"
    at_input = single_layer(tmp_path, (32, 1, 1), layer, "exact", "{deconv_at_output: 0, bias_params: 1}")
    at_output = single_layer(tmp_path, (32, 1, 1), layer, "exact", "{deconv_at_output: 1}")
    assert (at_input["H_out"], at_input["W_out"]) == (3, 3)
    # Weights 32·1·3·3 = 288, plus 1 bias.
    assert at_output["Params"] == 288
    assert at_input["Params"] == 289
    # At input resolution: 1 position x 288 weights. At output: 3·3 positions x 1·3·3·32.
    assert at_input["MACs"] == 1 * 288
    assert at_output["MACs"] == 3 * 3 * 1 * 3 * 3 * 32 == 2592


def test_deconv_stride_2_with_bias_ops(tmp_path):
    # ConvTranspose2d(3 -> 1, kernel 2, stride 2) on 1 x 3 x 2 x 2: (2 - 1)·2 + 1 + 1 = 4.
    layer = "{name: up, op: conv_transpose2d, out_channels: 1, kernel: 2, stride: 2}"
    at_input = single_layer(tmp_path, (3, 2, 2), layer, "exact", "{deconv_at_output: 0}")
    at_output = single_layer(tmp_path, (3, 2, 2), layer, "exact", "{deconv_at_output: 1}")
    with_bias = single_layer(tmp_path, (3, 2, 2), layer, "exact", "{deconv_at_output: 0, bias_ops: 1}")
    assert (at_input["H_out"], at_input["W_out"]) == (4, 4)
    assert at_input["Params"] == 3 * 1 * 2 * 2 == 12
    assert at_input["MACs"] == 2 * 2 * 12 == 48
    assert at_output["MACs"] == 4 * 4 * 1 * 2 * 2 * 3 == 192
    # One bias addition per output element: 1·4·4.
    assert with_bias["MACs"] - at_input["MACs"] == 16


@pytest.mark.parametrize("channels, layer, per_batch_of_2", [
    # ConvTranspose2d(4 -> 6, k4, s2, p1): 8·8 inputs x 4·6·4·4 weights, times 2 images.
    (4, "{name: up, op: conv_transpose2d, out_channels: 6, kernel: 4, stride: 2, padding: 1}",
     2 * 8 * 8 * 4 * 6 * 16),
    # ConvTranspose2d(4 -> 4, k3, s2, p1, output padding 1, groups 4): 4·(4/4)·9 weights.
    (4, "{name: up, op: conv_transpose2d, out_channels: 4, kernel: 3, stride: 2, padding: 1, "
        "output_padding: 1, groups: 4}", 2 * 8 * 8 * 4 * 1 * 9),
    # ConvTranspose2d(6 -> 6, k2, s2, groups 3): 6·(6/3)·2·2 weights.
    (6, "{name: up, op: conv_transpose2d, out_channels: 6, kernel: 2, stride: 2, groups: 3}",
     2 * 8 * 8 * 6 * 2 * 4),
])
def test_deconv_on_batch_of_2_under_torch(tmp_path, channels, layer, per_batch_of_2):
    values = single_layer(tmp_path, (channels, 8, 8), layer, "exact", preset("torch"))
    assert (values["H_out"], values["W_out"]) == (16, 16)
    # flopsheet counts one image; the stated MACs are for the batch of 2.
    assert 2 * values["MACs"] == per_batch_of_2
    assert per_batch_of_2 in (49_152, 4_608, 6_144)


# Linear, batch norm and upsampling.

def test_linear_on_5x10x3(tmp_path):
    # Linear(3 -> 8) on a 5 x 10 x 3 tensor: channels are the last axis, 5·10 positions.
    layer = "{name: fc, op: linear, out_features: 8}"
    without = single_layer(tmp_path, (3, 5, 10), layer, "exact", "{bias_params: 0}")
    with_bias = single_layer(tmp_path, (3, 5, 10), layer, "exact", "{bias_params: 1}")
    assert without["Params"] == 3 * 8 == 24
    assert with_bias["Params"] == 3 * 8 + 8 == 32
    assert without["MACs"] == 5 * 10 * 3 * 8 == 1200


ELEMENTS_64x56x56 = 64 * 56 * 56  # 200,704


@pytest.mark.parametrize("conventions_text, expected", [
    (preset("torch"), 0),                                   # FlopCounterMode: not counted
    (preset("torch", bn_ops=1), ELEMENTS_64x56x56),         # 1 per element
    (preset("fvcore"), 2 * ELEMENTS_64x56x56),              # eval mode: 2 per element (affine)
    (preset("ptflops"), 2 * ELEMENTS_64x56x56),             # 2 per element (affine)
    (preset("thop"), 4 * ELEMENTS_64x56x56),                # calculate_norm 2 per element, x2 affine
    (preset("torchinfo"), 2 * 64),                          # batch x parameters: 2·C per image
    (preset("notes"), 56 * 56 * 64 * (1 + 1) * 2),          # H·W·C·(b + 1)·2 at b = 1
])
def test_batch_norm_64x56x56(tmp_path, conventions_text, expected):
    values = single_layer(tmp_path, (64, 56, 56), "{name: bn, op: batch_norm}", "exact", conventions_text)
    assert values["MACs"] == expected
    # Scale and shift are trainable; the 128 running statistics are buffers.
    assert values["Params"] == 2 * 64 == 128


def test_bilinear_x2_of_8x3x32x32(tmp_path):
    layer = "{name: up, op: upsample, mode: bilinear, scale: 2}"
    values = single_layer(tmp_path, (3, 32, 32), layer, "exact", preset("fvcore"), extra_inputs="b: {default: 8}")
    output_elements = 8 * 3 * 64 * 64
    assert output_elements == 98_304
    assert values["C_out"] * values["H_out"] * values["W_out"] * 8 == output_elements
    assert values["Params"] == 0
    # fvcore: 4 operations per output element; flopsheet counts one of the 8 images.
    assert 8 * values["MACs"] == 4 * output_elements == 393_216


@pytest.mark.parametrize("name, per_output_element", [
    ("notes", 8), ("fvcore", 4), ("ptflops", 2), ("thop", 11), ("torchinfo", 0), ("torch", 0)])
def test_bilinear_rule_per_preset(tmp_path, name, per_output_element):
    layer = "{name: up, op: upsample, mode: bilinear, scale: 2}"
    values = single_layer(tmp_path, (3, 32, 32), layer, "exact", preset(name))
    assert values["MACs"] == per_output_element * 3 * 64 * 64


def test_pooling_rules_per_preset(tmp_path):
    # 8 x 12 x 10 input; 3 x 3 stride-2 max pool -> 8 x 5 x 4; 2 x 2 average pool -> 8 x 6 x 5.
    max_layer = "{name: pool, op: max_pool2d, kernel: 3, stride: 2}"
    avg_layer = "{name: pool, op: avg_pool2d, kernel: 2}"
    inputs, max_out, avg_out = 8 * 12 * 10, 8 * 5 * 4, 8 * 6 * 5
    expected = {
        "notes": (max_out * 9, avg_out * 4),     # 1 per output element and window element
        "fvcore": (0, 0),                        # aten::max_pool2d and avg_pool2d are not counted
        "ptflops": (2 * inputs, 2 * inputs),     # module hook + functional call, 1 per input each
        "thop": (0, avg_out),                    # max pooling free, average 1 per output element
        "torchinfo": (0, 0),
        "torch": (0, 0),
    }
    for name, (max_macs, avg_macs) in expected.items():
        assert single_layer(tmp_path, (8, 12, 10), max_layer, "exact", preset(name))["MACs"] == max_macs, name
        assert single_layer(tmp_path, (8, 12, 10), avg_layer, "exact", preset(name))["MACs"] == avg_macs, name


def test_adaptive_and_global_pool_per_preset(tmp_path):
    adaptive = "{name: pool, op: adaptive_avg_pool, output_size: [3, 2]}"
    inputs = 8 * 12 * 10
    expected = {
        "notes": (0, 0),
        "fvcore": (inputs, inputs),              # elementwise_flop_counter(1, 0)
        "ptflops": (2 * inputs, 2 * inputs),
        "thop": (inputs + 8 * 3 * 2, inputs + 8),  # (window + 1) per output element
        "torchinfo": (0, 0),
        "torch": (0, 0),
    }
    for name, (adaptive_macs, global_macs) in expected.items():
        values = single_layer(tmp_path, (8, 12, 10), adaptive, "exact", preset(name))
        assert (values["C_out"], values["H_out"], values["W_out"]) == (8, 3, 2)
        assert values["MACs"] == adaptive_macs, name
        assert single_layer(tmp_path, (8, 12, 10), "{name: pool, op: global_avg_pool}", "exact",
                            preset(name))["MACs"] == global_macs, name


def test_conv_bias_per_preset(tmp_path):
    # Conv2d(8 -> 6, k3, padding 1) on 8 x 12 x 10: 12·10·6 outputs of 8·9 MACs each.
    layer = "{name: conv, op: conv2d, out_channels: 6, kernel: 3, padding: 1}"
    outputs = 12 * 10 * 6
    for name, bias_per_output in (("notes", 0), ("fvcore", 0), ("ptflops", 1), ("thop", 0),
                                  ("torchinfo", 1), ("torch", 0)):
        values = single_layer(tmp_path, (8, 12, 10), layer, "exact", preset(name))
        assert values["MACs"] == outputs * 8 * 9 + bias_per_output * outputs, name
    assert single_layer(tmp_path, (8, 12, 10), layer, "exact", preset("torch"))["Params"] == 6 * 8 * 9 + 6
    assert single_layer(tmp_path, (8, 12, 10), layer, "exact", preset("notes"))["Params"] == 6 * 8 * 9


def test_add_and_activation_per_preset(tmp_path):
    add = "{name: sum, op: add, from: [data, data]}"
    relu = "{name: relu, op: activation, function: relu}"
    elements = 8 * 12 * 10
    for name, add_ops, relu_ops in (("notes", 1, 0), ("fvcore", 0, 0), ("ptflops", 0, 2), ("thop", 0, 0),
                                    ("torchinfo", 0, 0), ("torch", 0, 0)):
        assert single_layer(tmp_path, (8, 12, 10), add, "exact", preset(name))["MACs"] == add_ops * elements
        assert single_layer(tmp_path, (8, 12, 10), relu, "exact", preset(name))["MACs"] == relu_ops * elements


# Presets in specs and on the command line.

SPEC = """
model: {name: small}
shape_mode: exact
inputs:
  h: {default: 16}
  w: {default: 16}
conventions: %s
layers:
  - {name: data, op: input, channels: 4}
  - {name: conv, op: conv2d, out_channels: 8, kernel: 3, padding: 1}
  - {name: bn, op: batch_norm}
  - {name: up, op: upsample, mode: bilinear, scale: 2}
"""
# Hand arithmetic at 16 x 16: conv 16·16·8·36 = 73,728 MACs, 16·16·8 = 2,048 bias additions,
# batch norm on 2,048 elements, upsampling to 8 x 32 x 32 = 8,192 elements.
CONV, BIAS, BN_ELEMENTS, UP_ELEMENTS = 16 * 16 * 8 * 36, 16 * 16 * 8, 16 * 16 * 8, 8 * 32 * 32


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_spec_preset_with_override(tmp_path):
    path = write_spec(tmp_path, SPEC % "{preset: thop, bilinear_ops: 8}")
    network = load_network(path)
    assert network.preset == "thop"
    assert network.conventions["bilinear_ops"] == 8
    assert network.conventions["bn_ops"] == 4
    total = sum(row["MACs"] for row in evaluate(network))
    assert total == CONV + 4 * BN_ELEMENTS + 8 * UP_ELEMENTS


def test_convention_option_replaces_spec_values(tmp_path):
    path = write_spec(tmp_path, SPEC % "{preset: thop, bilinear_ops: 8}")
    result = run("show", str(path), "--format", "json", "--convention", "ptflops")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # ptflops: bias 1 per output element, batch norm 2 per element, upsampling 2 per element.
    assert data["totals"]["macs"] == CONV + BIAS + 2 * BN_ELEMENTS + 2 * UP_ELEMENTS
    assert data["conventions"]["preset"] == "ptflops"
    assert data["totals"]["flops"] == 2 * data["totals"]["macs"]


def test_fvcore_flops_are_macs(tmp_path):
    path = write_spec(tmp_path, SPEC % "{preset: fvcore}")
    data = json.loads(run("show", str(path), "--format", "json").output)
    assert data["totals"]["macs"] == CONV + 2 * BN_ELEMENTS + 4 * UP_ELEMENTS
    assert data["totals"]["flops"] == data["totals"]["macs"]


def test_unknown_preset_is_an_error(tmp_path):
    path = write_spec(tmp_path, SPEC % "{preset: fvcor}")
    result = run("check", str(path))
    assert result.exit_code == 2
    assert f"{path}:6: unknown convention preset 'fvcor' (did you mean 'fvcore'?)" in result.output
    assert "Traceback" not in result.output


def test_unknown_convention_option_is_an_error(tmp_path):
    path = write_spec(tmp_path, SPEC % "{}")
    result = run("show", str(path), "--convention", "flops")
    assert result.exit_code == 2
    assert "'flops' is not one of" in result.output


# Convention cells in LibreOffice.

@pytest.mark.libreoffice
def test_convention_cells_change_totals(tmp_path):
    """Setting the cells of the notes defaults to another preset's values gives that preset's totals."""
    path = write_spec(tmp_path, SPEC % "{}")
    network = load_network(path)
    book = tmp_path / "small.xlsx"
    write_workbook([network], book, "small")
    header = [cell.value for cell in openpyxl.load_workbook(book)["small"][1]]
    macs_column = header.index("MACs")

    cases = {
        # notes (b = 1): batch norm 2·2 per element, bilinear 8 per element.
        "notes": CONV + 4 * BN_ELEMENTS + 8 * UP_ELEMENTS,
        "fvcore": CONV + 2 * BN_ELEMENTS + 4 * UP_ELEMENTS,
        "torchinfo": CONV + BIAS + 2 * 8,
        "torch": CONV,
    }
    for name, expected_macs in cases.items():
        edited = tmp_path / f"{name}.xlsx"
        oracles.set_inputs(book, edited, {key: float(value) for key, value in preset_values(name).items()})
        folder = tmp_path / name
        folder.mkdir()
        rows = oracles.recalculate(edited, folder)["small"]
        by_label = {row[0]: row for row in rows[1:] if row}
        per_mac = preset_values(name)["flops_per_mac"]
        assert oracles.as_number(by_label["Total"][macs_column]) == expected_macs, name
        assert oracles.as_number(by_label["FLOPs"][macs_column]) == expected_macs * per_mac, name


@pytest.mark.libreoffice
def test_deconv_resolution_cell(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: deconv}
        shape_mode: exact
        inputs:
          h: {default: 2}
          w: {default: 2}
        layers:
          - {name: data, op: input, channels: 3}
          - {name: up, op: conv_transpose2d, out_channels: 1, kernel: 2, stride: 2}
        """)
    network = load_network(path)
    book = tmp_path / "deconv.xlsx"
    write_workbook([network], book, "deconv")
    macs_column = [cell.value for cell in openpyxl.load_workbook(book)["deconv"][1]].index("MACs")
    for flag, expected in ((1, 192), (0, 48)):  # 4·4·1·2·2·3 at output, 2·2·3·1·2·2 at input
        edited = tmp_path / f"flag{flag}.xlsx"
        oracles.set_inputs(book, edited, {"deconv_at_output": flag, "h": 2})
        folder = tmp_path / f"flag{flag}"
        folder.mkdir()
        rows = oracles.recalculate(edited, folder)["deconv"]
        by_label = {row[0]: row for row in rows[1:] if row}
        assert oracles.as_number(by_label["Total"][macs_column]) == expected
