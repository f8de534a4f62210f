"""The Reconciliation sheet: each claim's stated value as a formula in the inputs, the computed value
read from the layer cells, their difference and a status that turns red on a mismatch."""

from __future__ import annotations

from fractions import Fraction

import sympy
from xlsxwriter.utility import xl_rowcol_to_cell

from . import expr
from .reconcile import COLUMN, reconcile
from .sympy_excel import to_excel as sympy_to_excel

HEADER = ("Claim", "Kind", "Covers", "Claimed", "Computed", "Difference", "Status", "Diagnosis",
          "Claimed closed form", "Computed closed form")
# A difference this small relative to the value is rounding in Excel's floating point, not a mismatch.
TOLERANCE = "1E-9"


class _Names(dict):
    def __missing__(self, key):
        return key


def write_reconciliation(writer, model) -> None:
    """Add the Reconciliation sheet for a model written by ``writer`` (a WorkbookWriter)."""
    from .workbook import COL, cached, quote_sheet

    network = model.network
    results = reconcile(network)
    book = writer.book
    sheet = book.add_worksheet("Reconciliation")
    sheet.write_row(0, 0, HEADER, writer.header)
    source = quote_sheet(model.sheet)
    by_name = {layer.name: layer for layer in network.layers}
    for row, (claim, result) in enumerate(zip(network.claims, results), start=1):
        sheet.write_string(row, 0, claim.name)
        sheet.write_string(row, 1, claim.kind)
        sheet.write_string(row, 2, claim.scope)
        claimed_value, computed_value = _values_at_defaults(network, claim, result)
        value = claim.value if claim.at is None else expr.substitute(claim.value, claim.at)
        sheet.write_formula(row, 3, "=" + expr.to_excel(value, _Names()), writer.count, cached(claimed_value))
        sheet.write_formula(row, 4, _computed_formula(network, claim, model, source, by_name, COL),
                            writer.count, cached(computed_value))
        difference = claimed_value - computed_value
        sheet.write_formula(row, 5, f"=D{row + 1}-E{row + 1}", writer.count, cached(difference))
        status = f'=IF(ABS(F{row + 1})<={TOLERANCE}*MAX(1,ABS(E{row + 1})),"match","mismatch")'
        sheet.write_formula(row, 6, status, None, result.status)
        sheet.write_string(row, 7, result.diagnosis)
        sheet.write_string(row, 8, result.claimed)
        sheet.write_string(row, 9, result.computed)
    last = len(results)
    if last:
        green = book.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"})
        red = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        for text, fmt in (("match", green), ("mismatch", red)):
            sheet.conditional_format(1, 6, last, 6, {"type": "cell", "criteria": "==",
                                                     "value": f'"{text}"', "format": fmt})
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 7)
    sheet.set_column(2, 2, 24)
    sheet.set_column(3, 5, 18)
    sheet.set_column(6, 6, 10)
    sheet.set_column(7, 7, 70)
    sheet.set_column(8, 9, 34)
    sheet.freeze_panes(1, 1)


def _values_at_defaults(network, claim, result) -> tuple[Fraction, Fraction]:
    defaults = network.input_defaults()
    inputs = dict(defaults, **(claim.at or {}))
    claimed = expr.evaluate_number(claim.value, inputs)
    return claimed, Fraction(result.computed_at_defaults)


def _computed_formula(network, claim, model, source, by_name, COL) -> str:
    column = COLUMN[claim.kind]
    names = list(claim.layers) if claim.layers is not None else [layer.name for layer in network.layers]
    if claim.at is not None:
        # The layer cells hold values at the Inputs sheet's values, so a figure evaluated at fixed
        # inputs is computed from the closed form instead.
        from .compute import closed_forms, symbols
        syms = symbols(network)
        forms = {layer.name: form for layer, form in zip(network.layers, closed_forms(network))}
        total = sum((forms[name][column] for name in names), start=sympy.Integer(0))
        fixed = {syms[k]: sympy.Rational(v.numerator, v.denominator) for k, v in claim.at.items()}
        return "=" + sympy_to_excel(sympy.expand(total.subs(fixed)), _Names())
    if claim.layers is None and not claim.per_pass:
        return f"={source}!{xl_rowcol_to_cell(model.total_row, COL[column], True, True)}"
    terms = []
    for name in names:
        row = model.rows[name]
        cell = f"{source}!{xl_rowcol_to_cell(row, COL[column])}"
        layer = by_name[name]
        if claim.per_pass and layer.repeat is not None and not (column == "Params" and layer.share_weights):
            cell = f"{cell}/{source}!{xl_rowcol_to_cell(row, COL['Repeat'])}"
        terms.append(cell)
    return "=" + "+".join(terms) if terms else "=0"
