"""Edited workbooks read back: show, report and export-spec against hand arithmetic and LibreOffice.

Workbooks are edited with openpyxl, whose save drops every cached result, so
LibreOffice recalculates the whole file when it opens it. Its totals are the
oracle for what flopsheet reads back. Some files also go through LibreOffice
itself (``soffice --convert-to xlsx``), as a user's save would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill

import oracles
from flopsheet.cli import main
from flopsheet.embedded_spec import PART_LENGTH
from flopsheet.export_spec import export_spec
from flopsheet.load import load_network
from flopsheet.readback import read_workbook
from flopsheet.workbook import write_workbook

from support import SPECS, write_spec

# conv: 3 -> 8 channels, 3 x 3, padding 1; pool 2 x 2; fc: flatten -> 10.
SMALL = """
# A small network; this comment must survive an export.
model: {name: small}
inputs:
  h: {default: 64}   # height
  w: {default: 32}
layers:
  - {name: data, op: input, channels: 3}
  - {name: conv, op: conv2d, out_channels: 8, kernel: 3, padding: 1}
  - {name: pool, op: max_pool2d, kernel: 2}
  - {name: fc, op: linear, out_features: 10, flatten: true}
"""


def small_macs(h, w, channels=8, kernel=(3, 3), pool=(2, 2)):
    """conv h·w·C·k_h·k_w·3 (padding keeps the size), pool (h/2)(w/2)·C·4, fc C·(h/2)(w/2)·10."""
    ph, pw = h / pool[0], w / pool[1]
    return h * w * channels * kernel[0] * kernel[1] * 3 + ph * pw * channels * pool[0] * pool[1] \
        + channels * ph * pw * 10


def small_params(h, w, channels=8):
    """conv C·27 without bias, fc C·(h/2)(w/2)·10."""
    return channels * 27 + channels * (h / 2) * (w / 2) * 10


def runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click 8.2 and later keep stderr apart without the argument
        return CliRunner()


def run(*args: str):
    return runner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def build(tmp_path: Path, spec: Path) -> Path:
    out = tmp_path / "built"
    result = run("build", spec, "-o", out, "--no-report")
    assert result.exit_code == 0, result.stderr
    return out / f"{load_network(spec).name}.xlsx"


def cell_of(xlsx: Path, layer: str, column: str) -> str:
    """Return "'sheet'!K5" for a layer's cell, found by the header row and the Layer column."""
    book = openpyxl.load_workbook(xlsx)
    sheet = next(book[name] for name in book.sheetnames if name not in
                 ("Inputs", "Conventions", "Summary", "Reconciliation", "Spec"))
    header = [c.value for c in sheet[1]]
    row = next(c.row for c in sheet["A"] if c.value == layer)
    letter = openpyxl.utils.get_column_letter(header.index(column) + 1)
    return f"'{sheet.title}'!{letter}{row}"


def show_totals(path: Path) -> dict:
    result = run("show", path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["totals"]


def libreoffice_totals(xlsx: Path, workdir: Path) -> dict:
    """Return the MACs and Params totals that LibreOffice calculates on the Summary sheet."""
    folder = Path(tempfile.mkdtemp(dir=workdir))
    rows = oracles.recalculate(xlsx, folder)["Summary"]
    header = rows[0]
    return {"macs": oracles.as_number(rows[1][header.index("MACs")]),
            "params": oracles.as_number(rows[1][header.index("Params")])}


def libreoffice_save(xlsx: Path, folder: Path) -> Path:
    """Open ``xlsx`` in LibreOffice and save it as .xlsx into ``folder``, as a user's save would."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-", dir=folder.parent) as profile:
        subprocess.run([oracles.find_soffice(), "--headless", "--norestore",
                        f"-env:UserInstallation={Path(profile).resolve().as_uri()}",
                        "--convert-to", "xlsx", "--outdir", str(folder), str(xlsx)],
                       check=True, capture_output=True, timeout=oracles.SOFFICE_TIMEOUT_S,
                       env=dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8"))
    saved = folder / xlsx.name
    assert saved.is_file(), f"LibreOffice did not save {saved}"
    return saved


def pdf_text(path: Path) -> str:
    import pypdf
    return " ".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


# The case the feature exists for: UCF with batch norm at h = 300, w = 200, b = 8, and
# conv3.conv_2 at 128 output channels instead of 256.
UCF_H, UCF_W, UCF_B = 300, 200, 8
# The spec's total is (613314 + 1080·b)·h·w. conv3 runs at h/4 x w/4 = 75 x 50 = 3750 positions:
# halving conv3.conv_2 halves its own MACs (3750·128·9·256 fewer), those of conv3.conv_3, which
# reads it (3750·256·9·128 fewer), and its batch norm's 3750·C·(b + 1)·2 (3750·128·18 fewer).
UCF_MACS = (613314 + 1080 * UCF_B) * UCF_H * UCF_W - 2 * 3750 * 128 * 9 * 256 - 3750 * 128 * 18
# Parameters: 29,420,352 in the convolutions and 2 per channel in the 26 batch norms
# (2·8448), less half of conv_2's and conv_3's weights (2·256·9·128) and 2·128 of bn_2.
UCF_PARAMS = 29420352 + 2 * 8448 - 2 * 256 * 9 * 128 - 2 * 128


@pytest.fixture(scope="module")
def ucf_edited(tmp_path_factory):
    """The UCF-BN workbook edited with openpyxl, and LibreOffice's totals for it."""
    tmp_path = tmp_path_factory.mktemp("ucf")
    book = build(tmp_path, SPECS / "ucf-bn.yaml")
    edited = tmp_path / "ucf-bn-edited.xlsx"
    oracles.set_inputs(book, edited, {"h": UCF_H, "w": UCF_W, "b": UCF_B,
                                      cell_of(book, "conv3.conv_2", "C_out"): 128})
    return tmp_path, book, edited, libreoffice_totals(edited, tmp_path)


@pytest.mark.libreoffice
def test_ucf_edit_libreoffice_matches_hand(ucf_edited):
    _, _, _, totals = ucf_edited
    assert totals == {"macs": UCF_MACS, "params": UCF_PARAMS}


@pytest.mark.libreoffice
def test_ucf_edit_show_totals(ucf_edited):
    _, _, edited, totals = ucf_edited
    result = run("show", edited, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["inputs"] == {"h": UCF_H, "w": UCF_W, "b": UCF_B}
    assert data["totals"]["macs"] == totals["macs"]
    assert data["totals"]["params"] == totals["params"]
    row = next(r for r in data["layers"] if r["layer"] == "conv3.conv_2")
    assert row["c_out"] == 128


@pytest.mark.libreoffice
def test_ucf_edit_exported_spec_totals(ucf_edited):
    tmp_path, _, edited, totals = ucf_edited
    spec = tmp_path / "exported.yaml"
    result = run("export-spec", edited, "-o", spec)
    assert result.exit_code == 0, result.stderr
    exported = show_totals(spec)
    assert exported["macs"] == totals["macs"]
    assert exported["params"] == totals["params"]

    text = spec.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert document["inputs"] == {"h": {"default": 300}, "w": {"default": 200}, "b": {"default": 8}}
    # conv_2 shares the parameter 'channels' with conv_1 and conv_3, so it gets a parameter of its own.
    stage = document["blocks"]["vgg_stage3"]
    assert stage["layers"][2]["out_channels"] == "conv_2_out_channels"
    uses = {entry["name"]: entry.get("with") for entry in document["layers"]}
    assert uses["conv3"] == {"channels": 256, "conv_2_out_channels": 128}
    assert uses["conv4"]["conv_2_out_channels"] == 512
    # The spec's comments stay.
    assert "# A VGG-16 stage: 3 x 3 convolutions with padding 1" in text
    assert "note: \"Add Up: 612234 + 1080*(b+1) = (613314 + 1080*b)*h*w\"" in text


@pytest.mark.libreoffice
def test_ucf_edit_report_pdf_totals(ucf_edited):
    tmp_path, _, edited, totals = ucf_edited
    out = tmp_path / "report"
    result = run("report", edited, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ucf-bn.md", "ucf-bn.pdf", "ucf-bn.png"]
    text = " ".join(pdf_text(out / "ucf-bn.pdf").split())
    assert f"{totals['macs']:,}" in text
    assert f"{totals['params']:,}" in text
    assert "h = 300, w = 200, b = 8" in text
    markdown = (out / "ucf-bn.md").read_text(encoding="utf-8")
    assert f"{totals['macs']:,}" in markdown


@pytest.mark.libreoffice
def test_ucf_edit_saved_by_libreoffice(ucf_edited):
    tmp_path, _, edited, totals = ucf_edited
    saved = libreoffice_save(edited, tmp_path / "saved")
    result = run("show", saved, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["totals"]["macs"] == totals["macs"]
    assert data["totals"]["params"] == totals["params"]
    spec = tmp_path / "from-saved.yaml"
    assert run("export-spec", saved, "-o", spec).exit_code == 0
    assert show_totals(spec)["macs"] == totals["macs"]


@pytest.mark.libreoffice
def test_block_parameter_edit_goes_into_with(tmp_path):
    book = build(tmp_path, SPECS / "ucf-bn.yaml")
    edited = tmp_path / "edited.xlsx"
    # deconv4.conv_3 reads the block parameter out_channels, which no other layer of up_stage3 uses.
    oracles.set_inputs(book, edited, {cell_of(book, "deconv4.conv_3", "C_out"): 128})
    spec = tmp_path / "exported.yaml"
    result = run("export-spec", edited, "-o", spec)
    assert result.exit_code == 0, result.stderr
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    uses = {entry["name"]: entry.get("with") for entry in document["layers"]}
    assert uses["deconv4"] == {"channels": 512, "out_channels": 128}
    assert document["blocks"] == yaml.safe_load((SPECS / "ucf-bn.yaml").read_text())["blocks"]
    totals = libreoffice_totals(edited, tmp_path)
    assert show_totals(spec) == {**totals, "flops": 2 * totals["macs"]}
    assert show_totals(edited)["macs"] == totals["macs"]


def test_build_export_build_is_byte_identical(tmp_path):
    first = build(tmp_path / "one", SPECS / "ucf-bn.yaml")
    spec = tmp_path / "ucf-bn.yaml"
    result = run("export-spec", first, "-o", spec)
    assert result.exit_code == 0, result.stderr
    assert spec.read_bytes() == (SPECS / "ucf-bn.yaml").read_bytes()
    second = build(tmp_path / "two", spec)
    assert second.read_bytes() == first.read_bytes()



@pytest.mark.parametrize("spec", sorted(SPECS.glob("*.yaml")), ids=lambda path: path.stem)
def test_unedited_export_is_the_spec_text(tmp_path, spec):
    network = load_network(spec)
    book = tmp_path / f"{network.name}.xlsx"
    write_workbook([network], book, network.title)
    edited = read_workbook(book)
    assert edited.changes == ()
    assert export_spec(edited).text == spec.read_text(encoding="utf-8")


def test_unedited_workbook_has_no_changes(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, SMALL))
    edited = read_workbook(book)
    assert edited.changes == ()
    assert edited.warnings == ()
    assert show_totals(book) == {"macs": small_macs(64, 32), "params": small_params(64, 32),
                                 "flops": 2 * small_macs(64, 32)}


def test_long_spec_text_splits_into_parts(tmp_path):
    filler = "".join(f"# note {i}: " + "x" * 90 + "\n" for i in range(300))
    long_line = "# " + "y" * (PART_LENGTH + 500) + "\n"
    spec = write_spec(tmp_path, SMALL)
    spec.write_text(filler + long_line + spec.read_text(encoding="utf-8"), encoding="utf-8")
    book = build(tmp_path, spec)
    parts = [row[4].value for row in openpyxl.load_workbook(book)["Spec"].iter_rows(min_row=2)]
    assert len(parts) > 3
    assert max(len(part) for part in parts) <= PART_LENGTH
    exported = tmp_path / "exported.yaml"
    assert run("export-spec", book, "-o", exported).exit_code == 0
    assert exported.read_bytes() == spec.read_bytes()


def test_edits_survive_layout_changes(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, SMALL))
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["small"]
    sheet.column_dimensions["A"].width = 40
    for row in sheet.iter_rows(min_row=1, max_row=3):
        for cell in row:
            cell.font = Font(italic=True, color="FF0000")
            cell.fill = PatternFill("solid", fgColor="CCFFCC")
    sheet["J3"].comment = Comment("halved on purpose", "reviewer")
    total_row = next(c.row for c in sheet["A"] if c.value == "Total")
    sheet.cell(row=total_row + 5, column=1, value="conv")   # notes that repeat a layer's name and a label
    sheet.cell(row=total_row + 7, column=1, value="Total")
    sheet.cell(row=total_row + 7, column=31, value="see the Summary")
    sheet.cell(row=total_row + 6, column=2, value="notes typed below the table")
    sheet.cell(row=1, column=40, value="Remarks")          # a column of notes beside the table
    sheet.cell(row=3, column=40, value="check with the authors")
    workbook.move_sheet("small", offset=-2)
    workbook.move_sheet("Summary", offset=-3)
    edit = cell_of(book, "conv", "C_out")
    workbook["small"][edit.split("!")[1]] = 4
    workbook["Inputs"]["B2"] = 128
    edited = tmp_path / "edited.xlsx"
    workbook.save(edited)

    result = run("show", edited, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    totals = json.loads(result.stdout)["totals"]
    assert totals["macs"] == small_macs(128, 32, channels=4)
    assert totals["params"] == small_params(128, 32, channels=4)


@pytest.mark.libreoffice
@pytest.mark.parametrize("column, typed", [("H_out", 48), ("MACs", 1000)])
def test_typed_over_formula_is_used_as_typed(tmp_path, column, typed):
    book = build(tmp_path, write_spec(tmp_path, SMALL))
    target = cell_of(book, "conv", column)
    edited = tmp_path / "edited.xlsx"
    oracles.set_inputs(book, edited, {target: typed})
    totals = libreoffice_totals(edited, tmp_path)

    result = run("show", edited, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["totals"]["macs"] == totals["macs"]
    assert data["totals"]["params"] == totals["params"]
    sheet, cell = target.split("!")
    assert f"sheet 'small', cell {cell}: warning: {column} of layer 'conv'" in result.stderr
    assert "used as typed" in result.stderr

    result = run("export-spec", edited, "-o", tmp_path / "out.yaml")
    assert result.exit_code == 2
    assert f"sheet 'small', cell {cell}" in result.stderr
    assert "--drop-typed-values" in result.stderr
    assert not (tmp_path / "out.yaml").exists()
    result = run("export-spec", edited, "-o", tmp_path / "out.yaml", "--drop-typed-values")
    assert result.exit_code == 0, result.stderr
    assert show_totals(tmp_path / "out.yaml")["macs"] == small_macs(64, 32)


def test_typed_h_out_feeds_consumers(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, SMALL))
    edited = tmp_path / "edited.xlsx"
    oracles.set_inputs(book, edited, {cell_of(book, "conv", "H_out"): 48})
    data = json.loads(run("show", edited, "--format", "json").stdout)
    rows = {row["layer"]: row for row in data["layers"]}
    # At h = 64, w = 32 with H_out typed as 48: the conv charges 48·32 positions, the pool
    # reads 48 rows and gives 24 x 16, and the fc reads 8·24·16 features.
    assert rows["conv"]["macs"] == 48 * 32 * 8 * 27
    assert rows["pool"]["h_in"] == 48
    assert rows["pool"]["macs"] == 24 * 16 * 8 * 4
    assert rows["fc"]["macs"] == 8 * 24 * 16 * 10
    assert data["totals"]["params"] == 8 * 27 + 8 * 24 * 16 * 10


@pytest.mark.parametrize("edit, message", [
    (("conv", "C_out", 0), "C_out of layer 'conv' is 0: type a positive whole number"),
    (("conv", "k_h", "three"), "k_h of layer 'conv' holds the text 'three', not a number"),
    (("conv", "stride_w", 1.5), "stride_w of layer 'conv' is 1.5: type a positive whole number"),
    (("conv", "bias", 2), "bias of layer 'conv' is 2: type 1 (yes) or 0 (no)"),
    (("conv", "pad_h", None), "pad_h of layer 'conv' is empty, not a number"),
    (("conv", "H_out", "=SUM(1,2)"), None),
    (("conv", "C_out", "=J2*2"), "C_out of layer 'conv' holds the formula =J2*2, which flopsheet cannot evaluate"),
])
def test_invalid_layer_edit_is_rejected(tmp_path, edit, message):
    book = build(tmp_path, write_spec(tmp_path, SMALL))
    layer, column, value = edit
    target = cell_of(book, layer, column)
    edited = tmp_path / "edited.xlsx"
    oracles.set_inputs(book, edited, {target: value})
    result = run("show", edited)
    cell = target.split("!")[1]
    if message is None:
        # An edited formula is not evaluated: a warning, and the cell is computed by its rule.
        assert result.exit_code == 0
        assert f"cell {cell}: warning: H_out of layer 'conv' holds the edited formula =SUM(1,2)" in result.stderr
        return
    assert result.exit_code == 2
    assert f"edited.xlsx: sheet 'small', cell {cell}: {message}" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_inputs_and_structure_are_rejected(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, SMALL))
    workbook = openpyxl.load_workbook(book)
    workbook["Inputs"]["B2"] = -5
    workbook["Conventions"]["B2"] = "yes"
    sheet = workbook["small"]
    sheet.delete_rows(next(c.row for c in sheet["A"] if c.value == "pool"))
    edited = tmp_path / "edited.xlsx"
    workbook.save(edited)
    result = run("show", edited)
    assert result.exit_code == 2
    assert "edited.xlsx: sheet 'Inputs', cell B2: input h is -5: type a positive number" in result.stderr
    assert "sheet 'Conventions', cell B2: convention bias_params holds the text 'yes'" in result.stderr
    assert "sheet 'small': no row for layer 'pool'" in result.stderr
    assert "Traceback" not in result.stderr


def test_kernel_larger_than_input_names_the_row(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, SMALL))
    edited = tmp_path / "edited.xlsx"
    oracles.set_inputs(book, edited, {"h": 4, cell_of(book, "conv", "pad_h"): 0,
                                      cell_of(book, "conv", "k_h"): 7})
    result = run("show", edited)
    assert result.exit_code == 2
    row = cell_of(book, "conv", "H_out").split("!")[1][1:]
    assert f"sheet 'small', row {row} (layer 'conv'): H_out is -2 at the workbook's inputs" in result.stderr


def test_pair_and_pooling_edits_export(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, SMALL))
    edited = tmp_path / "edited.xlsx"
    # conv: a 5 x 3 kernel with padding [2, 1]; pool: a 4 x 4 window that keeps stride 2.
    oracles.set_inputs(book, edited, {cell_of(book, "conv", "k_h"): 5, cell_of(book, "conv", "pad_h"): 2,
                                      cell_of(book, "pool", "k_h"): 4, cell_of(book, "pool", "k_w"): 4,
                                      "bias_params": 1})
    spec = tmp_path / "exported.yaml"
    result = run("export-spec", edited, "-o", spec)
    assert result.exit_code == 0, result.stderr
    text = spec.read_text(encoding="utf-8")
    layers = {entry["name"]: entry for entry in yaml.safe_load(text)["layers"]}
    assert layers["conv"]["kernel"] == [5, 3]
    assert layers["conv"]["padding"] == [2, 1]
    assert layers["pool"]["kernel"] == 4
    assert layers["pool"]["stride"] == 2
    assert yaml.safe_load(text)["conventions"] == {"bias_params": 1}
    assert text.startswith("# A small network; this comment must survive an export.\n")
    assert "h: {default: 64}   # height" in text
    # Hand arithmetic at 64 x 32: the conv keeps the size (5 x 3 kernel, padding 2 and 1) and costs
    # 64·32·8·(5·3·3). The 4 x 4 pool with stride 2 and no padding gives (64 - 4)/2 + 1 = 31 by
    # (32 - 4)/2 + 1 = 15 positions at 16 window elements each; the fc reads 8·31·15 features.
    # bias_params = 1 counts the conv's 8 and the fc's 10 biases.
    macs = 64 * 32 * 8 * 45 + 31 * 15 * 8 * 16 + 8 * 31 * 15 * 10
    params = 8 * 45 + 8 + 8 * 31 * 15 * 10 + 10
    assert show_totals(spec) == {"macs": macs, "params": params, "flops": 2 * macs}
    assert show_totals(edited)["macs"] == macs


BLOCKS = """
model: {name: blocks}
inputs:
  h: {default: 32}
  w: {default: 32}
blocks:
  unit:
    params: {c: 8}
    layers:
      - {name: conv, op: conv2d, out_channels: c, kernel: 3, padding: 1}
      - {name: bn, op: batch_norm}
layers:
  - {name: data, op: input, channels: 3}
  - {name: u1, use: unit, with: {c: 8}}
  - {name: u2, use: unit, with: {c: 8}}
"""


def test_bias_edit_in_one_use_rejected(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, BLOCKS))
    edited = tmp_path / "edited.xlsx"
    target = cell_of(book, "u2.conv", "bias")
    oracles.set_inputs(book, edited, {target: 0})
    result = run("export-spec", edited, "-o", tmp_path / "out.yaml")
    assert result.exit_code == 2
    assert f"sheet 'blocks', cell {target.split('!')[1]}: bias of layer 'u2.conv' = 0 cannot be written" \
        in result.stderr
    assert "block 'unit' (used by u1, u2)" in result.stderr
    assert "Make the same edit in every use of the block" in result.stderr


def test_same_edit_in_every_use_exported(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, BLOCKS))
    edited = tmp_path / "edited.xlsx"
    oracles.set_inputs(book, edited, {cell_of(book, "u1.conv", "k_h"): 5, cell_of(book, "u1.conv", "k_w"): 5,
                                      cell_of(book, "u2.conv", "k_h"): 5, cell_of(book, "u2.conv", "k_w"): 5,
                                      cell_of(book, "u1.conv", "pad_h"): 2, cell_of(book, "u1.conv", "pad_w"): 2,
                                      cell_of(book, "u2.conv", "pad_h"): 2, cell_of(book, "u2.conv", "pad_w"): 2})
    spec = tmp_path / "exported.yaml"
    assert run("export-spec", edited, "-o", spec).exit_code == 0
    conv = yaml.safe_load(spec.read_text(encoding="utf-8"))["blocks"]["unit"]["layers"][0]
    assert conv == {"name": "conv", "op": "conv2d", "out_channels": "c", "kernel": 5, "padding": 2}


def test_differing_block_edits_get_parameters(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, BLOCKS))
    edited = tmp_path / "edited.xlsx"
    oracles.set_inputs(book, edited, {cell_of(book, "u2.conv", "k_w"): 1, cell_of(book, "u2.conv", "pad_w"): 0,
                                      cell_of(book, "u1.conv", "C_out"): 4})
    spec = tmp_path / "exported.yaml"
    result = run("export-spec", edited, "-o", spec)
    assert result.exit_code == 0, result.stderr
    assert "became the block parameter" in result.stderr
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    uses = {entry["name"]: entry.get("with") for entry in document["layers"]}
    assert uses["u1"]["c"] == 4
    # Hand arithmetic at 32 x 32: u1.conv 3 -> 4 channels 3 x 3, u1.bn 4 channels at (b + 1)·2
    # with b = 1; u2.conv 4 -> 8 channels with a 3 x 1 kernel, u2.bn 8 channels.
    macs = 32 * 32 * (4 * 9 * 3 + 4 * 4 + 8 * 3 * 4 + 8 * 4)
    params = 4 * 27 + 2 * 4 + 8 * 3 * 4 + 2 * 8
    assert show_totals(spec) == {"macs": macs, "params": params, "flops": 2 * macs}
    assert show_totals(edited)["macs"] == macs


def test_not_a_flopsheet_workbook(tmp_path):
    plain = tmp_path / "plain.xlsx"
    openpyxl.Workbook().save(plain)
    result = run("show", plain)
    assert result.exit_code == 2
    assert "not a workbook written by flopsheet" in result.stderr

    broken = tmp_path / "broken.xlsx"
    broken.write_text("not a zip file")
    result = run("show", broken)
    assert result.exit_code == 2
    assert "cannot read the file as an .xlsx workbook" in result.stderr


def test_changed_spec_sheet_is_detected(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, SMALL))
    workbook = openpyxl.load_workbook(book)
    cell = workbook["Spec"]["E2"]
    cell.value = cell.value.replace("out_channels: 8", "out_channels: 9")
    edited = tmp_path / "edited.xlsx"
    workbook.save(edited)
    result = run("show", edited)
    assert result.exit_code == 2
    assert re.search(r"spec text does not match its SHA-256", result.stderr)


NESTED = """
model: {name: nest}
inputs:
  h: {default: 32}
  w: {default: 32}
blocks:
  inner:
    params: {c: 8}
    layers:
      - {name: conv, op: conv2d, out_channels: c, kernel: 3, padding: 1}
  outer:
    params: {d: 8}
    layers:
      - {name: a, use: inner, with: {c: d}}
      - {name: b, use: inner, with: {c: d}}
layers:
  - {name: data, op: input, channels: 3}
  - {name: o1, use: outer, with: {d: 8}}
  - {name: o2, use: outer, with: {d: 16}}
"""


def test_nested_block_edit_exported(tmp_path):
    book = build(tmp_path, write_spec(tmp_path, NESTED))
    edited = tmp_path / "edited.xlsx"
    oracles.set_inputs(book, edited, {cell_of(book, "o2.b.conv", "C_out"): 4})
    spec = tmp_path / "exported.yaml"
    result = run("export-spec", edited, "-o", spec)
    assert result.exit_code == 0, result.stderr
    # At 32 x 32, each conv costs 32·32·C_out·9·C_in: 3 -> 8, 8 -> 8, 8 -> 16 and 16 -> 4 channels.
    weights = 8 * 9 * 3 + 8 * 9 * 8 + 16 * 9 * 8 + 4 * 9 * 16
    assert show_totals(spec) == {"macs": 32 * 32 * weights, "params": weights, "flops": 2 * 32 * 32 * weights}
    uses = {entry["name"]: entry["with"] for entry in yaml.safe_load(spec.read_text(encoding="utf-8"))["layers"]
            if "use" in entry}
    assert uses["o1"]["d"] == 8
    assert uses["o2"]["d"] == 16
