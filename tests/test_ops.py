"""Op rules against hand-computed cases. Costs are MACs for one image, without bias unless a test states otherwise."""

import sympy
import pytest

from flopsheet.compute import closed_forms, evaluate
from flopsheet.load import load_network

from support import single_layer, write_spec


# Conv2d(3→64, k7, stride 2, padding 3) at 224 x 224: (224 + 6 - 7) // 2 + 1 = 112.
def test_conv_7x7_stride_2(tmp_path):
    row = single_layer(tmp_path, (3, 224, 224),
                       "{name: c, op: conv2d, out_channels: 64, kernel: 7, stride: 2, padding: 3}",
                       mode="exact")
    assert (row["H_out"], row["W_out"]) == (112, 112)
    assert row["MACs"] == 112 * 112 * 64 * 7 * 7 * 3 == 118_013_952
    assert row["Params"] == 64 * 3 * 7 * 7 == 9_408


# 3 x 3 dilation 2 on 64 x 32 x 32: effective kernel 5, so padding 2 keeps 32, padding 1 gives 30.
@pytest.mark.parametrize("padding, size, macs", [
    (2, 32, 32 * 32 * 64 * 64 * 9),   # 37,748,736
    (1, 30, 30 * 30 * 64 * 64 * 9),   # 33,177,600
])
def test_conv_dilation(tmp_path, padding, size, macs):
    row = single_layer(tmp_path, (64, 32, 32),
                       f"{{name: c, op: conv2d, out_channels: 64, kernel: 3, dilation: 2, padding: {padding}}}",
                       mode="exact")
    assert row["H_out"] == size
    assert row["MACs"] == macs
    assert macs in (37_748_736, 33_177_600)


# MaxPool2d(3, stride 2) at 112: ceil((112 - 3) / 2) + 1 = 56, floor gives 55.
@pytest.mark.parametrize("ceil_mode, size", [("true", 56), ("false", 55)])
def test_max_pool_ceil_mode(tmp_path, ceil_mode, size):
    row = single_layer(tmp_path, (64, 112, 112),
                       f"{{name: p, op: max_pool2d, kernel: 3, stride: 2, ceil_mode: {ceil_mode}}}",
                       mode="exact")
    assert row["H_out"] == size


def test_ceil_mode_drops_window_starting_in_padding(tmp_path):
    # PyTorch: MaxPool2d(2, stride 2, padding 1, ceil_mode) on 5 gives 3, not ceil((5 + 2 - 2) / 2) + 1 = 4.
    row = single_layer(tmp_path, (1, 5, 5),
                       "{name: p, op: max_pool2d, kernel: 2, stride: 2, padding: 1, ceil_mode: true}",
                       mode="exact")
    assert row["H_out"] == 3


# Pooling by the window rule: 2 x 2 stride-2 pooling costs one operation per input element.
def test_pooling_window_rule(tmp_path):
    row = single_layer(tmp_path, (128, 56, 56), "{name: p, op: max_pool2d, kernel: 2}")
    assert row["H_out"] == 28
    assert row["MACs"] == 28 * 28 * 128 * 2 * 2 == 56 * 56 * 128


TRANSPOSED = [
    # (input C, H, W), layer, output size, MACs at input resolution, at output resolution.
    ((32, 1, 1), "out_channels: 1, kernel: 3", 3, 1 * 1 * 32 * 9 * 1, 3 * 3 * 32 * 9 * 1),
    ((3, 2, 2), "out_channels: 1, kernel: 2, stride: 2", 4, 2 * 2 * 3 * 4, 4 * 4 * 3 * 4),
    ((4, 8, 8), "out_channels: 6, kernel: 4, stride: 2, padding: 1", 16, 8 * 8 * 4 * 16 * 6, None),
    ((4, 8, 8), "out_channels: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1, groups: 4", 16,
     8 * 8 * 4 * 9 * 1, None),
    ((6, 8, 8), "out_channels: 6, kernel: 2, stride: 2, groups: 3", 16, 8 * 8 * 6 * 4 * 2, None),
]


@pytest.mark.parametrize("shape, fields, size, at_input, at_output", TRANSPOSED)
def test_conv_transpose(tmp_path, shape, fields, size, at_input, at_output):
    layer = f"{{name: t, op: conv_transpose2d, {fields}}}"
    row = single_layer(tmp_path, shape, layer, mode="exact", conventions="{deconv_at_output: 0}")
    assert row["H_out"] == size
    assert row["MACs"] == at_input
    if at_output is not None:
        row = single_layer(tmp_path, shape, layer, mode="exact", conventions="{deconv_at_output: 1}")
        assert row["MACs"] == at_output


def test_conv_transpose_published_batch_figures(tmp_path):
    # PyTorch's counter charges a batch of 2 at input resolution: 49,152, 4,608 and 6,144 MACs.
    expected = [49_152, 4_608, 6_144]
    for (shape, fields, _, _, _), batch_macs in zip(TRANSPOSED[2:], expected):
        row = single_layer(tmp_path, shape, f"{{name: t, op: conv_transpose2d, {fields}}}",
                           mode="exact", conventions="{deconv_at_output: 0}")
        assert 2 * row["MACs"] == batch_macs


def test_conv_transpose_weights_and_bias(tmp_path):
    layer = "{name: t, op: conv_transpose2d, out_channels: 1, kernel: 3}"
    row = single_layer(tmp_path, (32, 1, 1), layer, mode="exact")
    assert row["Params"] == 32 * 1 * 3 * 3 == 288
    row = single_layer(tmp_path, (32, 1, 1), layer, mode="exact", conventions="{bias_params: 1}")
    assert row["Params"] == 289


def test_conv_transpose_bias_additions(tmp_path):
    # One bias addition per output element: 4 x 4 x 1 = 16, on top of 48 MACs at input resolution.
    row = single_layer(tmp_path, (3, 2, 2), "{name: t, op: conv_transpose2d, out_channels: 1, kernel: 2, stride: 2}",
                       mode="exact", conventions="{deconv_at_output: 0, bias_ops: 1}")
    assert row["MACs"] == 48 + 16


# Linear(3→8) on the 3 features of each of 5 x 10 positions.
def test_linear_per_position(tmp_path):
    layer = "{name: fc, op: linear, out_features: 8}"
    row = single_layer(tmp_path, (3, 5, 10), layer)
    assert row["Params"] == 3 * 8 == 24
    assert row["MACs"] == 5 * 10 * 3 * 8 == 1_200
    assert (row["H_out"], row["W_out"], row["C_out"]) == (5, 10, 8)
    row = single_layer(tmp_path, (3, 5, 10), layer, conventions="{bias_params: 1}")
    assert row["Params"] == 32


def test_linear_flattened_grows_with_input(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: fc}
        layers:
          - {name: data, op: input, channels: 256}
          - {name: fc6, op: linear, out_features: 4096, flatten: true}
        """)
    network = load_network(path)
    form = closed_forms(network)[-1]
    h, w = sympy.symbols("h w", positive=True)
    assert sympy.expand(form["Params"] - 256 * 4096 * h * w) == 0
    assert evaluate(network)[-1]["H_out"] == 1


@pytest.mark.parametrize("bn_ops, bn_batch_ops, expected", [
    (0, 0, 0),
    (1, 0, 56 * 56 * 64),           # 200,704
    (2, 0, 56 * 56 * 64 * 2),       # 401,408
    (2, 2, 56 * 56 * 64 * (1 + 1) * 2),  # the notes' H·W·C·(b+1)·2 at b = 1: 802,816
])
def test_batch_norm_conventions(tmp_path, bn_ops, bn_batch_ops, expected):
    row = single_layer(tmp_path, (64, 56, 56), "{name: bn, op: batch_norm}",
                       conventions=f"{{bn_ops: {bn_ops}, bn_batch_ops: {bn_batch_ops}}}")
    assert row["MACs"] == expected
    assert row["Params"] == 2 * 64 == 128


def test_bilinear_upsampling(tmp_path):
    # 8 x 3 x 32 x 32 upsampled x2: 8 * 3 * 64 * 64 = 98,304 output elements, 4 operations each.
    row = single_layer(tmp_path, (3, 32, 32), "{name: up, op: upsample, scale: 2}",
                       conventions="{bilinear_ops: 4}")
    assert (row["H_out"], row["Params"]) == (64, 0)
    assert 8 * row["MACs"] == 8 * 3 * 64 * 64 * 4 == 393_216


def test_upsample_to_another_layer(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: up}
        layers:
          - {name: data, op: input, channels: 3}
          - {name: down, op: max_pool2d, kernel: 4}
          - {name: up, op: upsample, mode: nearest, size_of: data}
        """)
    row = evaluate(load_network(path))[-1]
    assert (row["H_out"], row["W_out"], row["MACs"]) == (224, 224, 0)


def test_add_concat_and_global_pool(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: branches}
        conventions: {global_pool_ops: 1}
        layers:
          - {name: data, op: input, channels: 8}
          - {name: a, op: conv2d, out_channels: 16, kernel: 3, padding: 1, from: data}
          - {name: b, op: conv2d, out_channels: 16, kernel: 1, from: data}
          - {name: c, op: conv2d, out_channels: 16, kernel: 1, from: data}
          - {name: sum, op: add, from: [a, b, c]}
          - {name: cat, op: concat, from: [sum, data]}
          - {name: gap, op: global_avg_pool}
        """)
    rows = evaluate(load_network(path))
    add, cat, gap = rows[-3:]
    assert add["MACs"] == 2 * 16 * 224 * 224   # two additions per element for three inputs
    assert cat["C_out"] == 16 + 8
    assert (gap["H_out"], gap["MACs"]) == (1, 24 * 224 * 224)


# Ideal sizes stay linear in h: H/2 for a padded 3 x 3 stride-2 conv and 2 x 2 pooling, H - 4 unpadded 5 x 5.
@pytest.mark.parametrize("layer, expected", [
    ("{name: c, op: conv2d, out_channels: 4, kernel: 3, stride: 2, padding: 1}", "h/2"),
    ("{name: p, op: max_pool2d, kernel: 2}", "h/2"),
    ("{name: c, op: conv2d, out_channels: 4, kernel: 5}", "h - 4"),
    ("{name: c, op: conv2d, out_channels: 4, kernel: 3, padding: same}", "h"),
])
def test_ideal_sizes_are_linear(tmp_path, layer, expected):
    path = write_spec(tmp_path, f"""
        model: {{name: ideal}}
        layers:
          - {{name: data, op: input, channels: 3}}
          - {layer}
        """)
    form = closed_forms(load_network(path))[-1]
    h = sympy.Symbol("h", positive=True)
    assert sympy.simplify(form["H_out"] - sympy.sympify(expected, locals={"h": h})) == 0


def test_repeat_and_shared_weights(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: rep}
        inputs:
          n: {default: 3, description: passes}
          k: {default: 2, description: schemes}
        blocks:
          unit:
            params: {c: 4}
            layers:
              - {name: conv, op: conv2d, out_channels: c, kernel: 1}
        layers:
          - {name: data, op: input, channels: 2}
          - {name: shared, use: unit, repeat: "(2*n+1)*k", share_weights: true}
          - {name: separate, use: unit, with: {c: 2}, repeat: "n"}
        """)
    rows = evaluate(load_network(path))
    one_pass = 224 * 224 * 2 * 4
    assert rows[1]["MACs"] == (2 * 3 + 1) * 2 * one_pass
    assert rows[1]["Params"] == 2 * 4
    assert rows[2]["MACs"] == 3 * 224 * 224 * 4 * 2
    assert rows[2]["Params"] == 3 * 4 * 2
