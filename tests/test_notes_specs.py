"""The bundled specs against independent arithmetic.

Each expected total is the sum of the per-layer terms as the reference notes
write them (transcribed below, with the notes' own errors corrected where the
layers say otherwise), or a published figure. The command line computes the
spec; nothing here calls flopsheet's arithmetic directly.
"""

from __future__ import annotations

import json
from fractions import Fraction as F

import pytest
from click.testing import CliRunner

from flopsheet.cli import main

from support import SPECS

H, W, B = 320, 480, 4


def show(spec: str, **inputs) -> dict:
    args = ["show", str(SPECS / spec), "--format", "json"]
    for name, value in inputs.items():
        args += ["--set", f"{name}={value}"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def ucf_conv_terms(h, w):
    """UCF's convolution, pooling and bilinear terms, stage by stage, as the notes write them."""
    h, w = F(h), F(w)
    return [
        h*w*64*3*3*3 + h*w*64*3*3*64 + h*w*64,                                           # conv1
        h/2*w/2*128*3*3*64 + h/2*w/2*128*3*3*128 + h/2*w/2*128,                          # conv2
        h/4*w/4*256*3*3*128 + h/4*w/4*256*3*3*256*2 + h/4*w/4*256,                       # conv3
        h/8*w/8*512*3*3*256 + h/8*w/8*512*3*3*512*2 + h/8*w/8*512,                       # conv4
        h/16*w/16*512*3*3*512*3 + h/16*w/16*512,                                         # conv5
        h/16*w/16*512*8 + h/16*w/16*512*3*3*512*3,                                       # deconv5
        h/8*w/8*512*8 + h/8*w/8*512*3*3*512*2 + h/8*w/8*256*3*3*512,                     # deconv4
        h/4*w/4*256*8 + h/4*w/4*256*3*3*256*2 + h/4*w/4*128*3*3*256,                     # deconv3
        h/2*w/2*128*8 + h/2*w/2*128*3*3*128 + h/2*w/2*64*3*3*128,                        # deconv2
        h*w*64*8 + h*w*64*3*3*64 + h*w*2*3*3*64,                                         # deconv1
    ]


def ucf_bn_terms(h, w, b):
    """Batch norm: H·W·C·(b + 1)·2 for each batch norm layer of each stage."""
    h, w = F(h), F(w)
    per = lambda size, channels, count: count * size * channels * (b + 1) * 2
    return [
        per(h*w, 64, 2), per(h/2*w/2, 128, 2), per(h/4*w/4, 256, 3), per(h/8*w/8, 512, 3),
        per(h/16*w/16, 512, 3),
        per(h/16*w/16, 512, 3), per(h/8*w/8, 512, 3), per(h/4*w/4, 256, 3), per(h/2*w/2, 128, 2),
        per(h*w, 64, 2),
    ]


UCF_PARAMS = [38592, 221184, 1474560, 5898240, 7077888, 7077888, 5898240, 1474560, 221184, 38016]
# Two parameters (scale and shift) per channel of each batch norm layer, encoder and decoder alike.
UCF_BN_PARAMS = 2 * 2 * (64 * 2 + 128 * 2 + 256 * 3 + 512 * 3 + 512 * 3)


def test_ucf_totals():
    data = show("ucf.yaml", h=H, w=W, b=B)
    assert data["totals"]["macs"] == sum(ucf_conv_terms(H, W)) == 612234 * H * W
    assert data["totals"]["params"] == sum(UCF_PARAMS) == 29420352
    assert data["closed_forms"]["macs"] == "612234·h·w"


def test_ucf_bn_totals():
    data = show("ucf-bn.yaml", h=H, w=W, b=B)
    expected = sum(ucf_conv_terms(H, W)) + sum(ucf_bn_terms(H, W, B))
    assert data["totals"]["macs"] == expected == (613314 + 1080 * B) * H * W
    assert data["totals"]["params"] == sum(UCF_PARAMS) + UCF_BN_PARAMS
    assert data["closed_forms"]["macs"] == "(613314 + 1080·b)·h·w"


def ds_terms(h, w):
    h, w = F(h), F(w)
    return [
        h*w*64*3*3*3 + h*w*64*3*3*64 + h/2*w/2*64*2*2,                                   # block1
        h/2*w/2*128*3*3*64 + h/2*w/2*128*3*3*128 + h/4*w/4*128*2*2,                      # block2
        h/4*w/4*256*3*3*128 + h/4*w/4*256*3*3*256*2 + h/4*w/4*256,                       # block3
        h/8*w/8*512*3*3*256 + h/8*w/8*512*3*3*512*2 + h/8*w/8*512,                       # block4
        h/16*w/16*512*3*3*512*3 + h/16*w/16*512,                                         # block5
        h/32*w/32*4096*7*7*512,                                                          # conv6
        h/32*w/32*4096*1*1*4096,                                                         # conv7
        h/32*w/32*1*1*1*4096,                                                            # score
        h*w*1*63*63*1,                                                                   # deconv
    ]


# conv6 is 7 x 7 in the cost, so its weights are 4096·512·7·7; the deconv has 63·63 weights.
DS_PARAMS = [38592, 221184, 1474560, 5898240, 7077888, 4096 * 512 * 7 * 7, 4096 * 4096, 4096, 63 * 63]


def test_ds_totals():
    data = show("ds.yaml", h=H, w=W, b=B)
    assert data["totals"]["macs"] == sum(ds_terms(H, W)) == 426687 * H * W
    assert data["totals"]["params"] == sum(DS_PARAMS)
    assert data["closed_forms"]["macs"] == "426687·h·w"


def test_vgg16_matches_torchvision():
    # torchvision's published parameter count for vgg16 (IMAGENET1K_V1): 138,357,544.
    data = show("zoo/vgg16.yaml")
    assert data["totals"]["params"] == 138_357_544
    # Hand count: 13 convs and 3 linear layers with biases.
    convs = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
             (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
    linears = [(512 * 7 * 7, 4096), (4096, 4096), (4096, 1000)]
    assert sum(9 * i * o + o for i, o in convs) + sum(i * o + o for i, o in linears) == 138_357_544


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_layers_add_up_to_totals(spec):
    data = show(spec)
    assert sum(row["macs"] for row in data["layers"]) == pytest.approx(data["totals"]["macs"], rel=1e-12)
    assert sum(row["params"] for row in data["layers"]) == pytest.approx(data["totals"]["params"], rel=1e-12)


@pytest.mark.libreoffice
def test_libreoffice_totals_at_320_by_480(tmp_path):
    import oracles
    from flopsheet.load import load_network
    from flopsheet.workbook import write_workbook

    expected = {
        "ucf": 612234 * H * W,
        "ucf-bn": (613314 + 1080 * B) * H * W,
        "ds": 426687 * H * W,
    }
    for name, macs in expected.items():
        network = load_network(SPECS / f"{name}.yaml")
        book = tmp_path / f"{name}.xlsx"
        write_workbook([network], book, network.title)
        edited = tmp_path / f"{name}-edited.xlsx"
        oracles.set_inputs(book, edited, {"h": H, "w": W, "b": B})
        folder = tmp_path / name
        folder.mkdir()
        rows = oracles.recalculate(edited, folder)["Summary"]
        header = rows[0]
        assert oracles.as_number(rows[1][header.index("MACs")]) == macs, name
