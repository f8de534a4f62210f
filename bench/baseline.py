"""The floor for writing a workbook from Python: raw XlsxWriter writing a given layout of cells.

Usage: ``python bench/baseline.py LAYOUT.json OUT.xlsx``

LAYOUT.json lists sheets, each with its number of rows and of formula, number
and string cells, and the mean length of its formulas. Its ``options`` are the
``xlsxwriter.Workbook`` options. Each row gets its share of each kind of cell.
Formulas are products of cell references padded to the mean length, each
written with a cached value. Strings are unique, as layer names are. No
value is computed: the time is XlsxWriter's own cost for that many cells.
"""

from __future__ import annotations

import json
import sys

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name


def spread(total: int, rows: int, row: int) -> int:
    """Return row ``row``'s share of ``total`` cells spread over ``rows`` rows."""
    return total // rows + (1 if row < total % rows else 0)


def formula_template(length: int, sample_row: int) -> str:
    """Return a formula over cells of rows ``{0}`` and ``{1}``, for str.format, that is about ``length``
    characters long once ``sample_row`` is filled in."""
    terms: list[str] = []
    while len(("=" + "*".join(terms)).format(sample_row, sample_row)) < length:
        index = len(terms)
        terms.append(xl_col_to_name(index % 26) + ("{0}" if index % 2 == 0 else "{1}"))
    return "=" + "*".join(terms)


def write(layout: dict, path: str) -> None:
    book = xlsxwriter.Workbook(path, layout["options"])
    number_format = book.add_format({"num_format": "#,##0"})
    for spec in layout["sheets"]:
        sheet = book.add_worksheet(spec["name"])
        rows = max(spec["rows"], 1)
        template = formula_template(round(spec["formula_length"]), rows // 2 + 1)
        for row in range(rows):
            col = 0
            for _ in range(spread(spec["strings"], rows, row)):
                sheet.write_string(row, col, f"cell {row}.{col}")
                col += 1
            for _ in range(spread(spec["numbers"], rows, row)):
                sheet.write_number(row, col, row + col)
                col += 1
            for _ in range(spread(spec["formulas"], rows, row)):
                sheet.write_formula(row, col, template.format(row + 1, max(row, 1)), number_format, row * col)
                col += 1
    book.close()


def main() -> None:
    layout_path, out = sys.argv[1], sys.argv[2]
    with open(layout_path, encoding="utf-8") as stream:
        write(json.load(stream), out)


if __name__ == "__main__":
    main()
