"""The model zoo against torchvision's published figures and against PyTorch.

The published figures are ``num_params`` and ``_ops`` from the metadata of
torchvision's weights. ``_ops`` is the GFLOPS column of torchvision's model
tables, which round it to two decimals. torchvision pull request 6936
computed it by counting convolutions and matrix products, which is what the
``torch`` preset charges.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from flopsheet.cli import main

from support import SPECS

ZOO = SPECS / "zoo"

PUBLISHED = {
    # spec: (num_params, _ops in GFLOPS, the docs' two-decimal GFLOPS)
    "alexnet": (61_100_840, "0.714", "0.71"),
    "vgg16": (138_357_544, "15.470", "15.47"),
    "resnet18": (11_689_512, "1.814", "1.81"),
    "resnet50": (25_557_032, "4.089", "4.09"),
    "mobilenet_v2": (3_504_872, "0.301", "0.30"),
}


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def show(name: str) -> dict:
    result = run("show", str(ZOO / f"{name}.yaml"), "--format", "json", "--convention", "torch",
                 "--set", "h=224", "--set", "w=224")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_zoo_parameters_equal_published(name):
    assert show(name)["totals"]["params"] == PUBLISHED[name][0]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_zoo_macs_equal_published_gflops(name):
    macs = show(name)["totals"]["macs"]
    _, ops, docs = PUBLISHED[name]
    assert f"{macs / 1e9:.3f}" == ops
    assert f"{macs / 1e9:.2f}" == docs


def test_alexnet_parameters_by_hand():
    # Convolutions (out, in, k) and linear layers (in, out), each with a bias.
    convs = [(64, 3, 11), (192, 64, 5), (384, 192, 3), (256, 384, 3), (256, 256, 3)]
    linears = [(256 * 6 * 6, 4096), (4096, 4096), (4096, 1000)]
    total = sum(o * i * k * k + o for o, i, k in convs) + sum(i * o + o for i, o in linears)
    assert total == PUBLISHED["alexnet"][0]


def test_resnet18_macs_by_hand():
    # 224 x 224: stem 112 x 112, stages at 56, 28, 14 and 7; 3 x 3 convs unless noted.
    stem = 112 * 112 * 64 * 7 * 7 * 3
    stage1 = 4 * 56 * 56 * 64 * 9 * 64
    def stage(size, channels):
        first = size * size * channels * 9 * (channels // 2)    # strided 3 x 3 conv
        shortcut = size * size * channels * (channels // 2)     # 1 x 1 downsample
        return first + shortcut + 3 * size * size * channels * 9 * channels
    fc = 512 * 1000
    total = stem + stage1 + stage(28, 128) + stage(14, 256) + stage(7, 512) + fc
    assert show("resnet18")["totals"]["macs"] == total


def test_zoo_claims_reconcile():
    result = run("reconcile", str(ZOO), "--fail-on-mismatch")
    assert result.exit_code == 0, result.output
    assert result.output.count("1 claims, 0 mismatches") == 5


def test_zoo_agrees_with_pytorch_on_cpu():
    # Random weights, computed on the CPU, at 224 x 224 and at a size where the
    # adaptive pools of AlexNet and VGG are not the identity.
    result = run("verify", str(ZOO), "--sizes", "224,256x320")
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == 10


def test_build_zoo_folder(tmp_path):
    result = run("build", str(ZOO), "-o", str(tmp_path), "--no-report")
    assert result.exit_code == 0, result.output
    for name in PUBLISHED:
        assert (tmp_path / f"{name}.xlsx").is_file()
    assert (tmp_path / "comparison.xlsx").is_file()
