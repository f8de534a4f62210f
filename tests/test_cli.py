"""The command line on good and bad specs: outputs, exit codes, messages, reproducibility."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from flopsheet.cli import main

from support import write_spec

GOOD = """
model: {name: small, title: "A *small* [net] #1", source: "Somebody, 2024"}
inputs:
  h: {default: 64}
  w: {default: 32}
layers:
  - {name: data, op: input, channels: 3}
  - {name: "=cmd", op: conv2d, out_channels: 8, kernel: 3, padding: 1, block: "`stem`"}
  - {name: pool, op: max_pool2d, kernel: 2, block: "`stem`"}
  - {name: fc, op: linear, out_features: 10, flatten: true}
"""
# Hand arithmetic at 64 x 32: conv 64·32·8·27, pool 32·16·8·4, fc (8·32·16)·10.
CONV_MACS = 64 * 32 * 8 * 27
POOL_MACS = 32 * 16 * 8 * 4
FC_MACS = 8 * 32 * 16 * 10
TOTAL_MACS = CONV_MACS + POOL_MACS + FC_MACS
TOTAL_PARAMS = 8 * 27 + 8 * 32 * 16 * 10


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_show_json_totals(tmp_path):
    spec = write_spec(tmp_path, GOOD)
    result = run("show", str(spec), "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["model"] == "small"
    assert data["inputs"] == {"h": 64, "w": 32, "b": 1}
    # The default flops_per_mac is 2: one multiply and one add per MAC.
    assert data["totals"] == {"macs": TOTAL_MACS, "params": TOTAL_PARAMS, "flops": 2 * TOTAL_MACS}
    assert [row["layer"] for row in data["layers"]] == ["data", "=cmd", "pool", "fc"]
    assert sum(row["macs"] for row in data["layers"]) == data["totals"]["macs"]


def test_show_set_changes_inputs(tmp_path):
    spec = write_spec(tmp_path, GOOD)
    result = run("show", str(spec), "--set", "h=128", "--set", "w=64", "--format", "json")
    data = json.loads(result.output)
    # Every term is proportional to h·w, which grew fourfold.
    assert data["totals"]["macs"] == 4 * TOTAL_MACS
    assert data["closed_forms"]["macs"] == f"{TOTAL_MACS // (64 * 32)}·h·w"


def test_show_csv_keeps_formula_like_names_as_text(tmp_path):
    spec = write_spec(tmp_path, GOOD)
    result = run("show", str(spec), "--format", "csv")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("layer,block,op,from")
    assert lines[2].startswith("'=cmd,")


@pytest.mark.parametrize("setting, message", [
    ("h", "'h' is not NAME=VALUE"),
    ("q=3", "unknown input 'q'"),
    ("h=-1", "h must be positive"),
    ("h=abc", "h: unknown name 'abc'"),
])
def test_show_rejects_bad_settings(tmp_path, setting, message):
    spec = write_spec(tmp_path, GOOD)
    result = CliRunner().invoke(main, ["show", str(spec), "--set", setting])
    assert result.exit_code == 2
    assert message in result.output


def test_build_writes_workbook_and_report(tmp_path):
    spec = write_spec(tmp_path, GOOD)
    out = tmp_path / "out"
    result = run("build", str(spec), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["small.md", "small.pdf", "small.png", "small.xlsx"]

    book = openpyxl.load_workbook(out / "small.xlsx")
    assert book.sheetnames == ["Inputs", "Conventions", "small", "Summary", "Spec"]
    assert book["Spec"].sheet_state == "veryHidden"
    sheet = book["small"]
    assert sheet["A3"].value == "=cmd"          # stays text, not a formula
    assert sheet["A3"].data_type == "s"
    assert str(book.defined_names["h"].attr_text) == "Inputs!$B$2"

    pdf = (out / "small.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 1
    markdown = (out / "small.md").read_text(encoding="utf-8")
    assert "A \\*small\\* \\[net\\] \\#1" in markdown
    assert f"{TOTAL_MACS:,}" in markdown


def test_build_is_reproducible(tmp_path):
    spec = write_spec(tmp_path, GOOD)
    for folder in ("one", "two"):
        assert run("build", str(spec), "-o", str(tmp_path / folder)).exit_code == 0
    for path in (tmp_path / "one").iterdir():
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes(), path.name


def test_build_several_writes_comparison(tmp_path):
    first = write_spec(tmp_path, GOOD, "small.yaml")
    second = write_spec(tmp_path, GOOD.replace("name: small", "name: other"), "other.yaml")
    out = tmp_path / "out"
    assert run("build", str(first), str(second), "-o", str(out)).exit_code == 0
    for name in ("comparison.xlsx", "comparison.md", "comparison.pdf"):
        assert (out / name).exists()
    book = openpyxl.load_workbook(out / "comparison.xlsx", data_only=True)
    sheet = book["Comparison"]
    # Both models at 224 x 224: every term of the closed form is proportional to h·w.
    assert sheet["C2"].value == TOTAL_MACS * 224 * 224 // (64 * 32)


def test_failed_build_keeps_earlier_outputs(tmp_path):
    spec = write_spec(tmp_path, GOOD, "small.yaml")
    out = tmp_path / "out"
    assert run("build", str(spec), "-o", str(out)).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    spec.write_text(GOOD.replace("kernel: 3", "kernel: 0"), encoding="utf-8")
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(out)])
    assert result.exit_code == 2
    assert "kernel must be a positive whole number (found 0)" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_output_path_that_is_a_file(tmp_path):
    spec = write_spec(tmp_path, GOOD)
    blocker = tmp_path / "taken"
    blocker.write_text("keep me", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(blocker)])
    assert result.exit_code == 2
    assert "is a file, not a folder" in result.output
    assert blocker.read_text(encoding="utf-8") == "keep me"


def test_check_folder_without_specs(tmp_path):
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 2
    assert "no spec files (*.yaml or *.yml) in this folder" in result.output


def test_console_script_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {name: x}\nlayers:\n  - {name: a, op: warp}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "flopsheet.cli", "check", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}:3: layers.0.op: unknown op 'warp'" in result.stderr
