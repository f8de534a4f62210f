"""Layer templates: the workbook's formulas, filled in from templates, against formulas rendered per layer."""

from __future__ import annotations

import sys

import openpyxl
import pytest
from xlsxwriter.utility import xl_rowcol_to_cell

from flopsheet import expr
from flopsheet.cells import VALUE_COLUMNS, layer_cells
from flopsheet.load import load_network
from flopsheet.ops import HYPERPARAMETERS
from flopsheet.programs import layer_template
from flopsheet.workbook import COL, write_workbook

from support import REPO, write_spec
from test_workbook import EVERY_OP

sys.path.insert(0, str(REPO / "bench"))
import synthetic  # noqa: E402


class _PassThrough(dict):
    def __missing__(self, key):
        return key


def rendered_formulas(network, rows: dict[str, int]) -> dict[str, str]:
    """Render every formula cell of the layer table from the layer's own cells, as A1 -> formula."""
    found = {}
    for layer in network.layers:
        row = rows[layer.name]
        refs = _PassThrough({name: xl_rowcol_to_cell(row, COL[name])
                             for name in list(VALUE_COLUMNS) + list(HYPERPARAMETERS)})
        for other in set(layer.inputs) | ({layer.size_of} if layer.size_of else set()):
            for column in VALUE_COLUMNS:
                refs[f"@{other}.{column}"] = xl_rowcol_to_cell(rows[other], COL[column])
        for column, cell in layer_cells(layer, network.shape_mode).items():
            if cell is not None and not isinstance(cell, expr.Num):
                found[xl_rowcol_to_cell(row, COL[column])] = "=" + expr.to_excel(cell, refs)
    return found


@pytest.mark.parametrize("case", ["ideal", "exact", "synthetic"])
def test_template_formulas_match_rendered(tmp_path, case):
    if case == "synthetic":
        path = synthetic.write_spec(tmp_path, 300)
    else:
        path = write_spec(tmp_path, EVERY_OP.format(mode=case))
    network = load_network(path)
    book = tmp_path / "book.xlsx"
    model = write_workbook([network], book, network.title)[0]
    expected = rendered_formulas(network, model.rows)
    sheet = openpyxl.load_workbook(book)[model.sheet]
    written = {address: sheet[address].value for address in expected}
    assert written == expected


def test_template_is_shared_by_equal_layers(tmp_path):
    network = load_network(synthetic.write_spec(tmp_path, 300))
    convs = [layer for layer in network.layers if layer.name.endswith(".conv_b")]
    same_stage = [layer for layer in convs if layer.block == convs[0].block]
    assert len(same_stage) > 2
    templates = {id(layer_template(layer, network.shape_mode)) for layer in same_stage}
    assert len(templates) == 1
