"""Workbooks against independent oracles: LibreOffice's recalculation and the formulas package.

openpyxl's save drops every cached result, so LibreOffice recalculates the whole
workbook on load; its values must equal flopsheet's Python values, at the
defaults and at other inputs. The cached values written by flopsheet must equal
LibreOffice's recalculation too.
"""

from __future__ import annotations

import math
import shutil
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest

import oracles
from flopsheet.cells import VALUE_COLUMNS
from flopsheet.compute import evaluate, total
from flopsheet.load import load_network
from flopsheet.workbook import write_workbook

from support import SPECS, write_spec

# A network with every op, in both shape modes.
EVERY_OP = """
model: {{name: every-op}}
shape_mode: {mode}
inputs:
  h: {{default: 96}}
  w: {{default: 64}}
  b: {{default: 2}}
  n: {{default: 3, description: passes}}
conventions: {{bias_params: 1, bias_ops: 1, global_pool_ops: 1, activation_ops: 1}}
blocks:
  unit:
    params: {{c: 8}}
    inputs: [x, skip]
    layers:
      - {{name: conv, op: conv2d, out_channels: c, kernel: 3, padding: 1}}
      - {{name: bn, op: batch_norm}}
      - {{name: sum, op: add, from: [bn, skip]}}
layers:
  - {{name: data, op: input, channels: 3}}
  - {{name: state, op: feedback, channels: 16, scale: "1/4", of: u2.sum}}
  - {{name: stem, op: conv2d, out_channels: 16, kernel: [7, 5], stride: 2, padding: [3, 2], block: stem, from: data}}
  - {{name: pool, op: max_pool2d, kernel: 3, stride: 2, ceil_mode: true, block: stem}}
  - {{name: mix, op: add, from: [pool, state]}}
  - {{name: dw, op: conv2d, out_channels: 16, kernel: 3, padding: 2, dilation: 2, groups: 16}}
  - {{name: u1, use: unit, with: {{c: 16}}, from: [dw, dw], repeat: "n"}}
  - {{name: u2, use: unit, with: {{c: 16}}, from: [u1, u1.conv], repeat: "2*n+1", share_weights: true}}
  - {{name: avg, op: avg_pool2d, kernel: 2}}
  - {{name: deconv, op: conv_transpose2d, out_channels: 16, kernel: 4, stride: 2, padding: 1}}
  - {{name: up, op: upsample, mode: bilinear, size_of: data}}
  - {{name: near, op: upsample, mode: nearest, scale: [1, 1], from: up}}
  - {{name: cat, op: concat, from: [near, data]}}
  - {{name: gate, op: multiply, from: [cat, cat]}}
  - {{name: act, op: activation, function: sigmoid}}
  - {{name: gap, op: global_avg_pool}}
  - {{name: fc, op: linear, out_features: 10, flatten: true}}
  - {{name: head, op: linear, out_features: 5, from: pool}}
"""

SETTINGS = [
    {},
    {"h": 320, "w": 480, "b": 4},
    {"h": 512, "w": 256, "b": 8},
]


def _spec_paths() -> list[Path]:
    return sorted(SPECS.glob("*.yaml"))


def _close(expected: Fraction, found) -> bool:
    """Compare exactly when LibreOffice's CSV is exact (integers below 2**53), else to 15 digits."""
    if found is None:
        return False
    if isinstance(found, int) and Fraction(expected).denominator == 1 and abs(expected) < 2**53:
        return found == expected
    return math.isclose(float(expected), float(found), rel_tol=1e-13, abs_tol=1e-9)


def _sheet_rows(rows: list[list[str]]) -> tuple[dict[str, int], dict[str, list[str]]]:
    header = {name: index for index, name in enumerate(rows[0])}
    by_layer = {}
    for row in rows[1:]:
        if row and row[0] and row[0] not in ("Subtotal",):
            by_layer.setdefault(row[0], row)
    return header, by_layer


def _compare(network, sheets, overrides) -> list[str]:
    """Return every difference between LibreOffice's values and flopsheet's at ``overrides``."""
    expected = evaluate(network, {k: Fraction(v) for k, v in overrides.items()})
    header, by_layer = _sheet_rows(sheets[network.name])
    wrong = []
    for layer, row in zip(network.layers, expected):
        found_row = by_layer[layer.name]
        for column in VALUE_COLUMNS:
            if row[column] is None:
                continue
            found = oracles.as_number(found_row[header[column]])
            if not _close(row[column], found):
                wrong.append(f"{layer.name}.{column}: flopsheet {float(row[column])}, LibreOffice {found}")
    totals = by_layer["Total"]
    for column in ("MACs", "Params"):
        found = oracles.as_number(totals[header[column]])
        if not _close(total(expected, column), found):
            wrong.append(f"Total {column}: flopsheet {float(total(expected, column))}, LibreOffice {found}")
    return wrong


def _recalculate(path: Path, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    return oracles.recalculate(path, folder)


def _networks(tmp_path_factory) -> list:
    folder = tmp_path_factory.mktemp("every-op")
    networks = [load_network(write_spec(folder, EVERY_OP.format(mode=mode), f"every-op-{mode}.yaml"))
                for mode in ("ideal", "exact")]
    return networks + [load_network(path) for path in _spec_paths()]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Write each network's workbook once; return (network, path) pairs."""
    folder = tmp_path_factory.mktemp("workbooks")
    pairs = []
    for index, network in enumerate(_networks(tmp_path_factory)):
        path = folder / f"{index}-{network.name}.xlsx"
        write_workbook([network], path, network.title)
        pairs.append((network, path))
    return pairs


def _ids(pairs):
    return [f"{network.name}-{network.shape_mode}" for network, _ in pairs]


@pytest.mark.libreoffice
@pytest.mark.parametrize("setting", range(len(SETTINGS)))
def test_libreoffice_recalculation_matches(built, tmp_path, setting):
    overrides = SETTINGS[setting]
    failures = {}
    for network, path in built:
        known = {p.name for p in network.inputs}
        values = {k: v for k, v in overrides.items() if k in known}
        # Setting the defaults again still strips the cached results, so LibreOffice recalculates.
        values = values or {"h": float(network.input_defaults()["h"])}
        edited = tmp_path / f"edited-{path.name}"
        oracles.set_inputs(path, edited, values)
        sheets = _recalculate(edited, tmp_path / path.stem)
        wrong = _compare(network, sheets, values)
        if wrong:
            failures[path.name] = wrong[:5]
    assert not failures


@pytest.mark.libreoffice
def test_cached_values_equal_recalculated(built, tmp_path):
    for network, path in built:
        cached = _recalculate(path, tmp_path / f"cached-{path.stem}")
        assert _compare(network, cached, {}) == [], path.name


def test_formulas_package_agrees(built):
    network, path = built[0]
    values = oracles.evaluate_with_formulas(path, {"h": 160, "w": 128, "b": 3})
    sheet = values[network.name]
    expected = evaluate(network, {"h": Fraction(160), "w": Fraction(128), "b": Fraction(3)})
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book[network.name].iter_rows(values_only=True))
    header = {name: index for index, name in enumerate(rows[0])}
    from xlsxwriter.utility import xl_rowcol_to_cell
    checked = 0
    for row_index, row in enumerate(rows[1:], start=1):
        layer = next((l for l in network.layers if l.name == row[0]), None)
        if layer is None:
            continue
        values_row = expected[network.layers.index(layer)]
        for column in ("C_out", "H_out", "W_out", "MACs", "Params"):
            found = sheet.get(xl_rowcol_to_cell(row_index, header[column]))
            assert math.isclose(float(values_row[column]), float(found), rel_tol=1e-12), (layer.name, column)
            checked += 1
    assert checked >= 5 * len(network.layers) - 5


@pytest.mark.libreoffice
def test_editing_channels_updates_consumers(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: edit}
        layers:
          - {name: data, op: input, channels: 3}
          - {name: conv1, op: conv2d, out_channels: 64, kernel: 3, padding: 1}
          - {name: conv2, op: conv2d, out_channels: 32, kernel: 3, padding: 1}
        """)
    network = load_network(path)
    book = tmp_path / "edit.xlsx"
    write_workbook([network], book, "edit")
    # conv1 is on row 3 (after the header and the input); C_out is column J.
    assert openpyxl.load_workbook(book)["edit"]["J3"].value == 64
    edited = tmp_path / "edited.xlsx"
    oracles.set_inputs(book, edited, {"edit!J3": 16})
    sheets = _recalculate(edited, tmp_path / "out")
    header, rows = _sheet_rows(sheets["edit"])
    conv2 = rows["conv2"]
    # Hand arithmetic at 224 x 224: conv1 3→16 and conv2 16→32, 3 x 3 kernels, same size.
    assert oracles.as_number(conv2[header["C_in"]]) == 16
    assert oracles.as_number(conv2[header["MACs"]]) == 224 * 224 * 32 * 9 * 16
    expected_total = 224 * 224 * 9 * (3 * 16 + 16 * 32)
    assert oracles.as_number(rows["Total"][header["MACs"]]) == expected_total
    assert oracles.as_number(rows["Total"][header["Params"]]) == 9 * (3 * 16 + 16 * 32)
