"""The Excel workbook: Inputs, Conventions, one sheet per model and a Summary, all live formulas.

Every formula is written with its computed value as the cached result, because
viewers that do not recalculate on load (LibreOffice opening an XlsxWriter
file, file previews) show the cached value, and XlsxWriter stores 0 without one.
"""

from __future__ import annotations

import datetime
import itertools
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from . import __version__, conventions, excel_numbers, expr
from .cells import VALUE_COLUMNS
from .closed_form import format_closed_form
from .compute import Block, blocks, evaluate, polynomial_forms
from .embedded_spec import EmbeddedSpec, write_spec_sheet
from .network import Network
from .ops import HYPERPARAMETERS
from .programs import fill_formula, layer_template, producers

# Version 2 adds the very hidden Spec sheet that flopsheet.readback reads.
FORMAT_VERSION = 2
log = logging.getLogger(__name__)
# A fixed creation date makes the same spec give byte-identical files.
CREATED = datetime.datetime(2000, 1, 1)

TEXT_COLUMNS = ("Layer", "Block", "Op", "From", "Size of")
LAYER_COLUMNS = (TEXT_COLUMNS + ("Repeat", "C_in", "H_in", "W_in", "C_out", "H_out", "W_out")
                 + tuple(HYPERPARAMETERS) + ("MACs", "Params", "MACs closed form", "Params closed form"))
COL = {name: index for index, name in enumerate(LAYER_COLUMNS)}
# Names in a layer's cells that refer to the row's own cells; other names are inputs or conventions.
_OWN_CELLS = frozenset(VALUE_COLUMNS) | frozenset(HYPERPARAMETERS)
SUMMARY_COLUMNS = ("Model", "MACs", "Params", "GMACs", "Params (M)", "MACs closed form",
                   "Params closed form")


def quote_sheet(name: str) -> str:
    """Quote a sheet name for a formula: 'My sheet'!A1, with apostrophes doubled."""
    return "'" + name.replace("'", "''") + "'"


def cached(value) -> int | float:
    """Return a cell's cached value: an int when whole, else the nearest float."""
    if type(value) is not Fraction:
        if type(value) is int:
            return value
        value = Fraction(value)
    return value.numerator if value.denominator == 1 else float(value)


@dataclass
class ModelSheet:
    """A model sheet as written: the rows of its layers, block subtotals and total, and their values."""

    network: Network
    sheet: str
    total_row: int
    block_rows: list[tuple[Block, int]]
    macs_total: Fraction
    params_total: Fraction
    macs_form: str
    params_form: str
    block_values: list[tuple[Fraction, Fraction]]
    rows: dict[str, int]


class WorkbookWriter:
    """Writes networks into one workbook."""

    def __init__(self, path: Path, title: str):
        self.book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False,
                                                   "strings_to_numbers": False})
        self.book.set_properties({"title": title, "created": CREATED,
                                  "comments": f"Written by flopsheet {__version__}"})
        self.book.set_custom_property("flopsheet_format", FORMAT_VERSION)
        self._formats()

    def _formats(self) -> None:
        book = self.book
        self.header = book.add_format({"bold": True, "bottom": 1, "bg_color": "#D9E1F2",
                                       "text_wrap": True, "valign": "top"})
        self.editable = book.add_format({"bg_color": "#FFF2CC", "border": 1, "border_color": "#BFBFBF"})
        self.count = book.add_format({"num_format": "#,##0"})
        self.shape = book.add_format({"num_format": "General"})
        self.subtotal = book.add_format({"bold": True, "num_format": "#,##0", "top": 1})
        self.subtotal_text = book.add_format({"bold": True, "top": 1})
        self.text = book.add_format({})
        self.decimal = book.add_format({"num_format": "#,##0.000"})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})

    def close(self) -> None:
        self.book.close()

    # Inputs and conventions.

    def write_inputs(self, network: Network) -> None:
        sheet = self.book.add_worksheet("Inputs")
        sheet.write_row(0, 0, ("Name", "Value", "Description"), self.header)
        for row, param in enumerate(network.inputs, start=1):
            sheet.write_string(row, 0, param.name)
            sheet.write_number(row, 1, cached(param.default), self.editable)
            sheet.write_string(row, 2, param.description)
            sheet.data_validation(row, 1, row, 1, {
                "validate": "decimal", "criteria": ">", "value": 0,
                "input_title": param.name, "input_message": "A positive number",
                "error_title": "Invalid value", "error_message": f"{param.name} must be a positive number"})
            self.book.define_name(param.name, f"=Inputs!$B${row + 1}")
        sheet.set_column(0, 0, 12)
        sheet.set_column(1, 1, 12)
        sheet.set_column(2, 2, 70)
        sheet.write_string(len(network.inputs) + 2, 0,
                           "Yellow cells are editable: change a value and every sheet recalculates.")
        sheet.activate()

    def write_conventions(self, values, preset: str | None = None) -> None:
        sheet = self.book.add_worksheet("Conventions")
        sheet.write_row(0, 0, ("Name", "Value", "Description"), self.header)
        for row, convention in enumerate(conventions.CONVENTIONS, start=1):
            sheet.write_string(row, 0, convention.name)
            sheet.write_number(row, 1, cached(values[convention.name]), self.editable)
            sheet.write_string(row, 2, convention.description)
            self.book.define_name(convention.name, f"=Conventions!$B${row + 1}")
        sheet.set_column(0, 0, 18)
        sheet.set_column(1, 1, 10)
        sheet.set_column(2, 2, 80)
        note = len(conventions.CONVENTIONS) + 2
        sheet.write_string(note, 0, "Costs are multiply-accumulates (MACs) for one image; "
                                    "parameters are counted once per layer. The FLOPs total is "
                                    "the MACs total times flops_per_mac.")
        sheet.write_string(note + 1, 0, f"Values start from the preset {preset or 'notes'} "
                                        "(docs/conventions.md lists the presets).")

    # A model's layer table.

    def write_model(self, network: Network, sheet_name: str) -> ModelSheet:
        sheet = self.book.add_worksheet(sheet_name)
        sheet.write_row(0, 0, LAYER_COLUMNS, self.header)
        sheet.freeze_panes(1, 1)
        sheet.outline_settings(True, True, True, False)
        mode = network.shape_mode
        templates = [layer_template(layer, mode) for layer in network.layers]
        values = evaluate(network)
        forms = polynomial_forms(network)
        runs = blocks(network)
        last_of_block = {run.last: run for run in runs}
        in_block = {i for run in runs for i in range(run.first, run.last + 1)}

        rows: dict[str, int] = {}
        row = 1
        block_rows: list[tuple[Block, int]] = []
        block_values = []
        # Equal closed forms are one row object, so each distinct row is formatted once.
        form_texts: dict[int, tuple[str, str]] = {}
        for index, (layer, template, value, form) in enumerate(zip(network.layers, templates, values, forms)):
            rows[layer.name] = row
            texts = form_texts.get(id(form))
            if texts is None:
                texts = form_texts[id(form)] = (format_closed_form(form["MACs"]), format_closed_form(form["Params"]))
            self._write_layer(sheet, row, layer, template, value, texts, rows)
            if index in in_block:
                sheet.set_row(row, None, None, {"level": 1})
            row += 1
            run = last_of_block.get(index)
            if run is not None:
                first_row = rows[network.layers[run.first].name]
                sums = (sum(values[i]["MACs"] for i in range(run.first, run.last + 1)),
                        sum(values[i]["Params"] for i in range(run.first, run.last + 1)))
                self._write_sum_row(sheet, row, "Subtotal", run.label, first_row, row - 1, sums)
                block_rows.append((run, row))
                block_values.append(sums)
                row += 1

        macs_total = sum(v["MACs"] for v in values)
        params_total = sum(v["Params"] for v in values)
        self._write_sum_row(sheet, row, "Total", "", 1, row - 1, (macs_total, params_total))
        total_macs_form = format_closed_form(sum(f["MACs"] for f in forms))
        total_params_form = format_closed_form(sum(f["Params"] for f in forms))
        sheet.write_string(row, COL["MACs closed form"], total_macs_form, self.subtotal_text)
        sheet.write_string(row, COL["Params closed form"], total_params_form, self.subtotal_text)
        self._write_flops_row(sheet, row, macs_total * network.conventions["flops_per_mac"])
        self._column_widths(sheet)
        # A generator: a list of every cell would take tens of MB at 50,000 layers.
        cells = ((rows[layer.name], column, value[column]) for layer, value in zip(network.layers, values)
                 for column in VALUE_COLUMNS)
        _warn_rounded_cells(Path(self.book.filename).name, sheet_name,
                            itertools.chain(cells, [(row, "MACs", macs_total), (row, "Params", params_total)]))
        return ModelSheet(network, sheet_name, row, block_rows, macs_total, params_total,
                          total_macs_form, total_params_form, block_values, rows)

    def _write_layer(self, sheet, row, layer, template, value, texts, rows) -> None:
        sheet.write_string(row, COL["Layer"], layer.name)
        sheet.write_string(row, COL["Block"], layer.block or "")
        sheet.write_string(row, COL["Op"], layer.label)
        sheet.write_string(row, COL["From"], ", ".join(layer.inputs))
        if layer.size_of:
            sheet.write_string(row, COL["Size of"], layer.size_of)
        for name, number in layer.hyper.items():
            sheet.write_number(row, COL[name], cached(number), self.editable)

        # Each formula is the template's, with this row's and its producers' row numbers filled in.
        own_row = str(row + 1)
        producer_rows = [str(rows[name] + 1) for name in producers(layer)]
        for column in VALUE_COLUMNS:
            cell = template.cells[column]
            if cell is None:
                continue
            fmt = self.count if column in ("MACs", "Params") else self.shape
            if isinstance(cell, expr.Num):
                sheet.write_number(row, COL[column], cached(cell.value), self.editable)
            else:
                pieces, slots = template.formula(column, COL, _OWN_CELLS)
                formula = fill_formula(pieces, slots, own_row, producer_rows)
                sheet.write_formula(row, COL[column], formula, fmt, cached(value[column]))
        sheet.write_string(row, COL["MACs closed form"], texts[0])
        sheet.write_string(row, COL["Params closed form"], texts[1])

    def _write_sum_row(self, sheet, row, label, block, first_row, last_row, sums) -> None:
        sheet.write_string(row, COL["Layer"], label, self.subtotal_text)
        sheet.write_string(row, COL["Block"], block, self.subtotal_text)
        for column, cached_value in zip(("MACs", "Params"), sums):
            letter = xl_col_to_name(COL[column])
            # SUBTOTAL skips other SUBTOTAL cells in its range, so block subtotals are not counted twice.
            formula = f"=SUBTOTAL(9,{letter}{first_row + 1}:{letter}{last_row + 1})"
            sheet.write_formula(row, COL[column], formula, self.subtotal, cached(cached_value))

    def _write_flops_row(self, sheet, total_row: int, flops) -> None:
        """Write the FLOPs total under the total row: the MACs total times the flops_per_mac cell."""
        row = total_row + 1
        macs_cell = xl_rowcol_to_cell(total_row, COL["MACs"])
        sheet.write_string(row, COL["Layer"], "FLOPs", self.subtotal_text)
        sheet.write_string(row, COL["Block"], "MACs × flops_per_mac", self.text)
        sheet.write_formula(row, COL["MACs"], f"={macs_cell}*flops_per_mac", self.subtotal, cached(flops))

    def _column_widths(self, sheet) -> None:
        sheet.set_column(COL["Layer"], COL["Layer"], 22)
        sheet.set_column(COL["Block"], COL["Block"], 14)
        sheet.set_column(COL["Op"], COL["Op"], 18)
        sheet.set_column(COL["From"], COL["Size of"], 16)
        sheet.set_column(COL["Repeat"], COL["W_out"], 8)
        sheet.set_column(COL["k_h"], COL["scale_w"], 7)
        sheet.set_column(COL["MACs"], COL["Params"], 16)
        sheet.set_column(COL["MACs closed form"], COL["Params closed form"], 34)

    # Summary.

    def write_summary(self, models: Sequence[ModelSheet]) -> None:
        sheet = self.book.add_worksheet("Summary")
        sheet.write_row(0, 0, SUMMARY_COLUMNS, self.header)
        for row, model in enumerate(models, start=1):
            source = quote_sheet(model.sheet)
            sheet.write_string(row, 0, model.network.title)
            self._sum_refs(sheet, row, source, model.total_row, model.macs_total, model.params_total)
            sheet.write_string(row, 5, model.macs_form)
            sheet.write_string(row, 6, model.params_form)
        sheet.set_column(0, 0, 36)
        sheet.set_column(1, 2, 18)
        sheet.set_column(3, 4, 12)
        sheet.set_column(5, 6, 40)
        self._chart(sheet, "Model", 1, len(models), "H2", "MACs and parameters by model")

        row = len(models) + 2
        if len(models) == 1 and models[0].block_rows:
            model = models[0]
            sheet.write_row(row, 0, ("Block",) + SUMMARY_COLUMNS[1:5], self.header)
            first = row + 1
            source = quote_sheet(model.sheet)
            for (run, block_row), (macs, params) in zip(model.block_rows, model.block_values):
                row += 1
                sheet.write_string(row, 0, run.label)
                self._sum_refs(sheet, row, source, block_row, macs, params)
            self._chart(sheet, "Block", first, row, f"H{first + 16}", "MACs and parameters by block")

    def _sum_refs(self, sheet, row, source, source_row, macs, params) -> None:
        macs_cell = xl_rowcol_to_cell(source_row, COL["MACs"], True, True)
        params_cell = xl_rowcol_to_cell(source_row, COL["Params"], True, True)
        sheet.write_formula(row, 1, f"={source}!{macs_cell}", self.count, cached(macs))
        sheet.write_formula(row, 2, f"={source}!{params_cell}", self.count, cached(params))
        sheet.write_formula(row, 3, f"=B{row + 1}/10^9", self.decimal, float(Fraction(macs) / 10**9))
        sheet.write_formula(row, 4, f"=C{row + 1}/10^6", self.decimal, float(Fraction(params) / 10**6))

    def _chart(self, sheet, what: str, first: int, last: int, anchor: str, title: str) -> None:
        chart = self.book.add_chart({"type": "bar"})
        for column, name in ((3, "GMACs"), (4, "Params (M)")):
            chart.add_series({"name": name,
                              "categories": ["Summary", first, 0, last, 0],
                              "values": ["Summary", first, column, last, column]})
        chart.set_title({"name": title})
        chart.set_x_axis({"name": "GMACs, millions of parameters"})
        chart.set_y_axis({"name": what, "reverse": True})
        chart.set_size({"width": 720, "height": max(300, 24 * (last - first + 1) + 120)})
        sheet.insert_chart(anchor, chart)


def _warn_rounded_cells(file_name: str, sheet_name: str, cells) -> None:
    """Log the cells of (row, column, value) whose whole values have more digits than Excel keeps."""
    rounded = [xl_rowcol_to_cell(row, COL[column]) for row, column, value in cells
               if value is not None and excel_numbers.beyond_precision(value)]
    if rounded:
        shown = ", ".join(rounded[:10]) + (f" and {len(rounded) - 10} more" if len(rounded) > 10 else "")
        log.warning("%s, sheet %r, cells %s: warning: whole numbers with more than %d significant digits, "
                    "which Excel rounds: expect their last digits to differ from the report's",
                    file_name, sheet_name, shown, excel_numbers.MAX_DIGITS)


def write_workbook(networks: Sequence[Network], path: Path, title: str) -> list[ModelSheet]:
    """Write one workbook holding ``networks``; all must share their inputs and conventions."""
    writer = WorkbookWriter(path, title)
    first = networks[0]
    writer.write_inputs(first)
    writer.write_conventions(first.conventions, first.preset)
    models = [writer.write_model(network, network.name) for network in networks]
    writer.write_summary(models)
    if len(models) == 1 and models[0].network.claims:
        from .reconcile_sheet import write_reconciliation
        write_reconciliation(writer, models[0])
    write_spec_sheet(writer.book, [EmbeddedSpec(m.sheet, m.network.preset, m.network.text) for m in models])
    writer.close()
    return models
