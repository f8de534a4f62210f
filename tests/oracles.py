"""Independent oracles that compute the values of an .xlsx workbook.

Tests use these helpers to check the formulas that flopsheet writes without
trusting flopsheet's own arithmetic:

* ``set_inputs`` edits input cells with openpyxl and saves a copy.
* ``recalculate`` lets LibreOffice compute the workbook and export every sheet
  to CSV. ``as_number`` and ``csv_cell`` read the exported cells.
* ``evaluate_with_formulas`` computes the workbook in Python with the
  ``formulas`` package, optionally with input cells overridden.

Facts below were measured with LibreOffice 7.4.7.2 (Debian 12 package
``libreoffice-calc-nogui``), formulas 1.3.4, openpyxl 3.1.5 and
XlsxWriter 3.3.1.

Recalculation on load. LibreOffice uses the cached result stored in a formula
cell and does not recalculate it. An XlsxWriter file therefore exports the
value passed as ``value`` to ``write_formula`` (0 when none is passed), even
when that value is wrong. Changing the ``Application`` entry in
``docProps/app.xml`` does not change this. openpyxl writes formula cells
without cached results, so LibreOffice computes every formula of a file saved
by ``set_inputs``.

Precision of exported numbers. With "save cell contents as shown" off, the CSV
export ignores number formats and writes integers with an absolute value below
2**53 in full (9007199254740991 round-trips). Every other number is rounded to
15 significant digits: 1/3 becomes ``0.333333333333333``, 2**53 becomes
``9.00719925474099E+015`` and 0.1+0.2 becomes ``0.3``. Compare such values
with a relative tolerance of about 1e-14. Exporting to .xlsx instead does not
help, because LibreOffice also rounds the stored values to 15 significant
digits, including integers.

Locale. The CSV export writes the decimal separator of LibreOffice's locale,
which follows ``LC_ALL``/``LANG`` (``de_DE.UTF-8`` gives ``1234567,25``). The
language token of the filter options does not change this, so ``recalculate``
runs soffice with ``LC_ALL=C.UTF-8``.

Profiles and timing. soffice instances that share a user profile do not run
in parallel: of four simultaneous conversions with one profile, three printed
"Error: source file could not be loaded" and still exited with status 0. With
a private profile per call, 2, 4 and 8 simultaneous conversions all produced
correct results, taking 2.0, 3.2 and 6.8 s of wall time. One ``recalculate``
call on the three-sheet test workbook, including the creation of a fresh
profile, took 1.6 to 1.8 s (five runs, median 1.7 s) on a machine with two
AMD EPYC CPUs. Reusing one profile saved little (1.4 to 1.8 s per run).

formulas 1.3.4 limits. It resolves workbook-scoped defined names (``=h*w``)
and references to other sheets (``=Inputs!B2``). It rejects number literals
with an unsigned exponent such as ``1E15`` ("Not a valid formula"), but
accepts ``1E+15``. It does not implement
``QUOTIENT`` and returns ``#NAME?`` for it. A reference to a sheet whose name
contains an apostrophe (``='O''Brien'!A1``) evaluates to ``#REF!``. It silently ignores an input whose
key does not match a cell of the model exactly, so ``evaluate_with_formulas``
resolves every key to a known cell first.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import formulas
import openpyxl
import schedula
from formulas.tokens.operand import XlError
from openpyxl.utils.cell import (
    column_index_from_string,
    coordinate_from_string,
    get_column_letter,
    range_boundaries,
)
from openpyxl.utils.exceptions import CellCoordinatesException

SOFFICE_TIMEOUT_S = 180
"""Seconds one soffice conversion may take before it is killed."""

# Filter tokens, in order:
#   44,34,76    field separator ",", text delimiter '"', character set UTF-8
#   1,,0        first line 1, no column formats, default language
#   false,true  quote only text cells that need it, and write numbers without
#               quotes (false makes LibreOffice 7.4 quote numbers too)
#   false       do not save cell contents as shown, so values are not rounded
#               to their number format
#   false,false do not export formulas, do not remove spaces
#   -1          write every sheet, each to FILE-SheetName.csv
CSV_FILTER = (
    "csv:Text - txt - csv (StarCalc):"
    "44,34,76,1,,0,false,true,false,false,false,-1"
)

INSTALL_HINT = "install the Debian package libreoffice-calc-nogui"

_INTEGER_RE = re.compile(r"[+-]?\d+")
_DECIMAL_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

# Node ids of formulas 1.3.4 look like "'[book.xlsx]SHEET NAME'!B2" for cells,
# "'[book.xlsx]SHEET'!A1:B3" for ranges and "'[book.xlsx]'!H" for defined
# names. The sheet name is upper-cased and a quote inside it is doubled.
_NODE_ID_RE = re.compile(
    r"^'?\[(?P<book>[^\]]*)\](?P<sheet>.*?)'?!"
    r"(?P<ref>\$?[A-Z]+\$?[0-9]+(:\$?[A-Z]+\$?[0-9]+)?)$"
)


def set_inputs(src: Path, dst: Path, values: dict[str, float]) -> None:
    """Copy the workbook ``src`` to ``dst`` with some cells set to new values.

    A key of ``values`` is either the name of a workbook-scoped defined name
    that refers to one cell (``"h"``) or a cell reference with a sheet
    (``"Inputs!B2"``, ``"'Layer 2'!$C$4"``). The new value replaces whatever
    the cell contains, including a formula. openpyxl saves formula cells
    without cached results, so LibreOffice computes them when it opens ``dst``.

    Raises KeyError when a defined name or sheet is not found and ValueError
    when a key does not refer to exactly one cell.
    """
    workbook = openpyxl.load_workbook(src)
    for key, value in values.items():
        sheet, coordinate = resolve_cell(workbook, key)
        workbook[sheet][coordinate].value = value
    workbook.save(dst)


def resolve_cell(workbook: openpyxl.Workbook, key: str) -> tuple[str, str]:
    """Resolve a defined name or cell reference to (sheet title, "B2").

    A key containing "!" is a cell reference, anything else a defined name.
    Defined names are looked up by exact spelling first and then ignoring
    case, because Excel treats names case-insensitively.
    """
    if "!" in key:
        return _resolve_reference(workbook, key)
    return _resolve_defined_name(workbook, key)


def _resolve_reference(workbook: openpyxl.Workbook, key: str) -> tuple[str, str]:
    sheet_part, _, cell_part = key.rpartition("!")
    sheet = _unquote_sheet(sheet_part)
    if sheet not in workbook.sheetnames:
        raise KeyError(
            f"sheet {sheet!r} in cell reference {key!r} not found. "
            f"The workbook has sheets {workbook.sheetnames}."
        )
    return sheet, _plain_coordinate(cell_part, key)


def _resolve_defined_name(workbook: openpyxl.Workbook, name: str) -> tuple[str, str]:
    defined = _find_defined_name(workbook, name)
    destinations = list(defined.destinations)
    if len(destinations) != 1:
        raise ValueError(
            f"defined name {name!r} refers to {defined.attr_text!r}, "
            "not to a single cell"
        )
    # openpyxl returns a quoted sheet name without its quotes but with the
    # quotes inside it still doubled.
    sheet, cells = destinations[0]
    return sheet.replace("''", "'"), _plain_coordinate(cells, name)


def _find_defined_name(workbook: openpyxl.Workbook, name: str):
    names = workbook.defined_names
    if name in names:
        return names[name]
    for candidate, defined in names.items():
        if candidate.lower() == name.lower():
            return defined
    raise KeyError(
        f"workbook-scoped defined name {name!r} not found. "
        f"The workbook defines {sorted(names)}."
    )


def _unquote_sheet(sheet: str) -> str:
    if len(sheet) >= 2 and sheet.startswith("'") and sheet.endswith("'"):
        return sheet[1:-1].replace("''", "'")
    return sheet


def _plain_coordinate(cells: str, key: str) -> str:
    """Return "B2" for "$B$2", or raise ValueError if ``cells`` is not a single cell."""
    plain = cells.replace("$", "")
    try:
        column, row = coordinate_from_string(plain)
    except CellCoordinatesException as error:
        raise ValueError(
            f"{key!r} refers to {cells!r}, which is not a single cell"
        ) from error
    return f"{column}{row}"


def find_soffice() -> str:
    """Return the path of the LibreOffice ``soffice`` program.

    Raises FileNotFoundError with an installation hint when it is missing.
    """
    for program in ("soffice", "libreoffice"):
        path = shutil.which(program)
        if path:
            return path
    raise FileNotFoundError(
        f"LibreOffice program soffice not found on PATH. To fix, {INSTALL_HINT}."
    )


def recalculate(xlsx: Path, workdir: Path) -> dict[str, list[list[str]]]:
    """Compute the workbook with LibreOffice and return every sheet's cells.

    Returns {sheet title: rows}, where each row is a list of cell strings as
    LibreOffice exports them to CSV. ``rows[0][0]`` is cell A1, and every
    sheet is exported from A1 to its last used cell. Whether formulas are
    recomputed or their cached results are used depends on the file, see the
    module docstring. The CSV files stay in a new directory under ``workdir``.
    Each call uses its own temporary LibreOffice profile, so calls may run in
    parallel.

    Raises FileNotFoundError when soffice is missing and RuntimeError when the
    conversion fails, times out or leaves a sheet without its CSV file.
    """
    xlsx = Path(xlsx).resolve()
    sheets = _sheet_names(xlsx)
    outdir = Path(tempfile.mkdtemp(prefix=f"{xlsx.stem}-csv-", dir=workdir))
    with tempfile.TemporaryDirectory(prefix="lo-profile-", dir=workdir) as profile:
        output = _run_soffice(xlsx, outdir, Path(profile))

    result = {}
    for sheet in sheets:
        path = outdir / f"{xlsx.stem}-{sheet}.csv"
        if not path.is_file():
            raise RuntimeError(
                f"LibreOffice wrote no CSV file for sheet {sheet!r} of {xlsx}. "
                f"soffice output:\n{output}"
            )
        result[sheet] = _read_csv(path)
    return result


def _sheet_names(xlsx: Path) -> list[str]:
    workbook = openpyxl.load_workbook(xlsx, read_only=True)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def _run_soffice(xlsx: Path, outdir: Path, profile: Path) -> str:
    """Run one soffice conversion and return its combined stdout and stderr.

    soffice exits with status 0 even when it cannot load the file, so the
    caller checks that the CSV files exist.
    """
    command = [
        find_soffice(),
        "--headless",
        "--norestore",
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--convert-to",
        CSV_FILTER,
        "--outdir",
        str(outdir),
        str(xlsx),
    ]
    environment = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    # A new session lets a timeout kill soffice together with the
    # soffice.bin process that the soffice launcher starts.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=SOFFICE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise RuntimeError(
            f"soffice timed out after {SOFFICE_TIMEOUT_S} s converting {xlsx}. "
            f"stderr:\n{stderr}"
        ) from None

    output = f"{stdout}\n{stderr}".strip()
    if process.returncode != 0:
        raise RuntimeError(
            f"soffice failed with exit status {process.returncode} "
            f"converting {xlsx}. Output:\n{output}"
        )
    return output


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return [row for row in csv.reader(stream)]


def csv_cell(rows: list[list[str]], address: str) -> str:
    """Return the exported text of cell ``address`` ("B2") from ``rows``.

    Cells outside the exported area are empty and return "".
    """
    column, row = coordinate_from_string(address.replace("$", ""))
    row_index = row - 1
    column_index = column_index_from_string(column) - 1
    if row_index >= len(rows) or column_index >= len(rows[row_index]):
        return ""
    return rows[row_index][column_index]


def as_number(cell: str) -> float | int | None:
    """Parse an exported CSV cell as a number.

    Returns None for an empty cell, an int for an integer without exponent
    (exact at any size) and a float otherwise, including exponent forms such
    as ``9.00719925474099E+015``. Raises ValueError for text, booleans
    (``TRUE``) and errors (``#DIV/0!``).
    """
    text = cell.strip()
    if text == "":
        return None
    if _INTEGER_RE.fullmatch(text):
        return int(text)
    if _DECIMAL_RE.fullmatch(text):
        return float(text)
    raise ValueError(f"CSV cell {cell!r} is not a number")


def evaluate_with_formulas(
    xlsx: Path, values: dict[str, float] | None = None
) -> dict[str, dict[str, object]]:
    """Compute the workbook with the ``formulas`` package.

    ``values`` overrides input cells and takes the same keys as
    ``set_inputs``. Each key is resolved to its target cell and the override
    is applied to that cell, so formulas that use the defined name and
    formulas that refer to the cell directly both see the new value.

    Returns {sheet title: {"B2": value}} with sheet titles spelled as in the
    workbook. Values are int, float, bool or str, and Excel errors are strings
    such as "#DIV/0!". Cells that are empty after the calculation are left
    out.

    Raises KeyError when a key names no defined name, sheet or cell of the
    model and ValueError when it does not refer to exactly one cell.
    """
    xlsx = Path(xlsx).resolve()
    model = formulas.ExcelModel().loads(str(xlsx)).finish()
    sheet_titles = {title.upper(): title for title in _sheet_names(xlsx)}
    node_ids = _cell_node_ids(model, sheet_titles)
    inputs = _formulas_inputs(xlsx, values or {}, node_ids)
    solution = model.calculate(inputs=inputs)
    return _solution_to_sheets(solution, sheet_titles)


def _cell_node_ids(model, sheet_titles: dict[str, str]) -> dict[tuple[str, str], str]:
    """Map (sheet title, "B2") to the id of that cell's node in the model."""
    node_ids = {}
    for node_id in model.dsp.data_nodes:
        location = _parse_node_id(node_id, sheet_titles)
        if location is not None and ":" not in location[1]:
            node_ids[location] = node_id
    return node_ids


def _parse_node_id(node_id: object, sheet_titles: dict[str, str]) -> tuple[str, str] | None:
    """Return (sheet title, "B2" or "A1:B3") for a cell or range node, else None.

    Defined-name nodes have no sheet, so they return None.
    """
    if not isinstance(node_id, str):
        return None
    match = _NODE_ID_RE.match(node_id)
    if match is None or not match["sheet"]:
        return None
    sheet = match["sheet"].replace("''", "'")
    title = sheet_titles.get(sheet.upper())
    if title is None:
        return None
    return title, match["ref"].replace("$", "")


def _formulas_inputs(
    xlsx: Path, values: dict[str, float], node_ids: dict[tuple[str, str], str]
) -> dict[str, float]:
    if not values:
        return {}
    workbook = openpyxl.load_workbook(xlsx)
    inputs = {}
    for key, value in values.items():
        cell = resolve_cell(workbook, key)
        if cell not in node_ids:
            raise KeyError(
                f"{key!r} refers to {cell[0]}!{cell[1]}, which is empty and "
                "not used by any formula, so the formulas model has no node for it"
            )
        inputs[node_ids[cell]] = value
    return inputs


def _solution_to_sheets(
    solution, sheet_titles: dict[str, str]
) -> dict[str, dict[str, object]]:
    """Collect cell values from the solution's cell and range nodes.

    Results of array formulas exist only as range nodes in formulas 1.3.4, so
    range nodes fill the cells that have no node of their own.
    """
    sheets: dict[str, dict[str, object]] = {title: {} for title in sheet_titles.values()}
    ranges = []
    for node_id, result in solution.items():
        location = _parse_node_id(node_id, sheet_titles)
        if location is None:
            continue
        sheet, ref = location
        if not hasattr(result, "value"):
            continue
        if ":" in ref:
            ranges.append((sheet, ref, result))
            continue
        value = _plain_value(result.value[0, 0])
        if value is not None:
            sheets[sheet][ref] = value

    for sheet, ref, result in ranges:
        for address, item in _range_cells(ref, result.value):
            value = _plain_value(item)
            if value is not None:
                sheets[sheet].setdefault(address, value)
    return sheets


def _range_cells(ref: str, values) -> list[tuple[str, object]]:
    """Pair each cell address of the range ``ref`` with its item in ``values``."""
    min_column, min_row, _, _ = range_boundaries(ref)
    rows, columns = values.shape
    return [
        (f"{get_column_letter(min_column + column)}{min_row + row}", values[row, column])
        for row in range(rows)
        for column in range(columns)
    ]


def _plain_value(value: object) -> object:
    """Convert one item of a formulas result to a plain Python value."""
    if value is schedula.EMPTY:
        return None
    if isinstance(value, XlError):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return value
