"""Reading back a workbook that flopsheet wrote and a user then edited in Excel or LibreOffice.

The workbook carries its spec (flopsheet.embedded_spec). Reading it back loads
that spec and then every cell a user may change. The inputs and the conventions
are found through their defined names. On the model sheet, each layer's
hyperparameters are read, its C_out where the op lets the channel count be
chosen, and any other constant cell. Rows are found by the Layer column and columns by the
header row, so reformatting, comments, notes beside or below the table,
inserted rows and reordered sheets do not matter. Cached formula results are
never read: the network is computed again from the values read.

A formula cell overwritten with a number is used as typed, as a spreadsheet
does: the number replaces the cell's formula, so the row's own formulas and
the rows that read the cell use it. A typed H_out feeds the row's MACs and
the next layer's H_in, and a typed MACs replaces that layer's MACs in the
totals. Such cells come back in ``Layer.fixed_values``, each with a warning.
An edited formula is not evaluated: it gets a warning and the cell is
computed by flopsheet's rule. A typed-over subtotal or total is not read
either, since flopsheet sums the layer rows.
"""

from __future__ import annotations

import dataclasses
import datetime
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Mapping

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.formula import ArrayFormula
from xlsxwriter.utility import xl_rowcol_to_cell

from . import compute, expr
from .cells import VALUE_COLUMNS, layer_cells
from .embedded_spec import SHEET as SPEC_SHEET
from .embedded_spec import read_spec_sheet
from .errors import Problem, SpecError
from .load import load_text
from .network import InputParam, Layer, Network
from .ops import HYPERPARAMETERS
from .workbook import FORMAT_VERSION, LAYER_COLUMNS

# The header row is searched for among the first rows of the model sheet.
MAX_HEADER_ROW = 20
# Labels of the rows that are not layers: block subtotals, the total and the FLOPs row.
SUM_LABELS = ("Subtotal", "Total", "FLOPs")
TEXT_COLUMNS = ("Block", "Op", "From", "Size of")


@dataclass(frozen=True)
class CellChange:
    """A cell whose value differs from the one flopsheet wrote."""

    where: str
    layer: str | None
    # An input name, a convention name, or a layer table column.
    column: str
    old: Fraction | None
    new: Fraction
    # True for a formula cell overwritten with a number.
    typed_over: bool = False


@dataclass(frozen=True)
class EditedWorkbook:
    """A workbook read back: the network as built, the network as edited, and what differs."""

    path: Path
    original: Network
    network: Network
    changes: tuple[CellChange, ...]
    warnings: tuple[Problem, ...]
    sheet: str
    # Each layer's row and each layer table column's index, 1-based, where they are now.
    rows: Mapping[str, int]
    columns: Mapping[str, int]

    def row_where(self, layer: str) -> str:
        """Return where a layer's row is, as ``file: sheet 'm', row 5``."""
        return f"{self.path}: sheet {self.sheet!r}, row {self.rows[layer]}"

    def cell_where(self, layer: str, column: str) -> str:
        """Return where a layer's cell is, as ``file: sheet 'm', cell K5``."""
        letter = get_column_letter(self.columns[column])
        return f"{self.path}: sheet {self.sheet!r}, cell {letter}{self.rows[layer]}"


# Rules for the numbers a cell may hold: a test and the fix to print when it fails.
Rule = tuple[Callable[[Fraction], bool], str]
POSITIVE: Rule = (lambda v: v > 0, "type a positive number")
NON_NEGATIVE: Rule = (lambda v: v >= 0, "type a number of at least 0")
POSITIVE_WHOLE: Rule = (lambda v: v > 0 and v.denominator == 1, "type a positive whole number")
FLAG: Rule = (lambda v: v in (0, 1), "type 1 (yes) or 0 (no)")

HYPERPARAMETER_RULES: dict[str, Rule] = {
    "k_h": POSITIVE_WHOLE, "k_w": POSITIVE_WHOLE,
    "stride_h": POSITIVE_WHOLE, "stride_w": POSITIVE_WHOLE,
    "pad_h": NON_NEGATIVE, "pad_w": NON_NEGATIVE,
    "dilation_h": POSITIVE_WHOLE, "dilation_w": POSITIVE_WHOLE,
    "groups": POSITIVE_WHOLE,
    "out_pad_h": NON_NEGATIVE, "out_pad_w": NON_NEGATIVE,
    "ceil_mode": FLAG, "bias": FLAG, "flatten": FLAG,
    "scale_h": POSITIVE, "scale_w": POSITIVE,
    "out_h": POSITIVE_WHOLE, "out_w": POSITIVE_WHOLE,
}
VALUE_RULES: dict[str, Rule] = {
    "C_in": POSITIVE, "H_in": POSITIVE, "W_in": POSITIVE,
    "C_out": POSITIVE, "H_out": POSITIVE, "W_out": POSITIVE,
    "Repeat": NON_NEGATIVE, "MACs": NON_NEGATIVE, "Params": NON_NEGATIVE,
}


def read_workbook(path: Path | str) -> EditedWorkbook:
    """Read an edited workbook back into a network; raise SpecError naming the sheet and cell of each problem."""
    path = Path(path)
    book = _open(path)
    where = str(path)
    _check_format(book, where)
    specs = read_spec_sheet(book, where)
    if len(specs) != 1:
        raise SpecError([Problem(where, f"the workbook contains {len(specs)} models "
                                        f"({', '.join(s.sheet for s in specs)}); flopsheet reads back "
                                        "workbooks of one model, as flopsheet build writes them")])
    embedded = specs[0]
    original = load_text(embedded.text, Path(f"{path} (embedded spec)"))
    if embedded.preset is not None:
        from .presets import PRESETS, preset_values
        if embedded.preset in PRESETS:
            original = dataclasses.replace(original, conventions=preset_values(embedded.preset),
                                           preset=embedded.preset)
    return _Reader(book, path, original).read()


def _open(path: Path):
    if path.is_dir():
        raise SpecError([Problem(str(path), "is a folder, not a workbook")])
    try:
        return openpyxl.load_workbook(path)
    except FileNotFoundError:
        raise SpecError([Problem(str(path), "file not found: check the path")]) from None
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise SpecError([Problem(str(path), f"cannot read the file as an .xlsx workbook ({error}): "
                                            "save it from Excel or LibreOffice as Excel 2007-365 (.xlsx)")]) from None


def _check_format(book, where: str) -> None:
    version = None
    for prop in getattr(book.custom_doc_props, "props", []):
        if prop.name == "flopsheet_format":
            version = prop.value
    if version is None:
        if SPEC_SHEET in book.sheetnames:
            return
        raise SpecError([Problem(where, "not a workbook written by flopsheet (it has no flopsheet_format "
                                        "property): build one with flopsheet build SPEC -o FOLDER")])
    try:
        version = int(float(version))
    except (TypeError, ValueError):
        raise SpecError([Problem(where, f"the flopsheet_format property is {version!r}, not a number: "
                                        "rebuild the workbook from its spec")]) from None
    if version < 2:
        raise SpecError([Problem(where, f"written by an older flopsheet (workbook format {version}) that "
                                        "did not store the spec in the workbook: rebuild it with "
                                        "flopsheet build SPEC -o FOLDER and make the edits again")])
    if version > FORMAT_VERSION:
        raise SpecError([Problem(where, f"written by a newer flopsheet (workbook format {version}; this "
                                        f"version reads format {FORMAT_VERSION}): upgrade flopsheet")])


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def _quote_formula_text(text: str) -> str:
    return text if text.startswith("=") else "=" + text


class _Reader:
    """Reads one model's inputs, conventions and layer table; collects problems, changes and warnings."""

    def __init__(self, book, path: Path, original: Network):
        self.book = book
        self.path = path
        self.original = original
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.changes: list[CellChange] = []

    # Locations and cells.

    def at(self, sheet: str, cell: str) -> str:
        return f"{self.path}: sheet {sheet!r}, cell {cell}"

    def fail(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(Problem(where, message))

    def content(self, cell) -> tuple[str, object]:
        """Classify a cell: ("number", Fraction), ("formula", text), ("empty", None), ("text", str), ..."""
        value = cell.value
        if value is None or (isinstance(value, str) and value.strip() == "" and cell.data_type != "f"):
            return "empty", None
        if cell.data_type == "f" or isinstance(value, ArrayFormula):
            text = value.text if isinstance(value, ArrayFormula) else str(value)
            return "formula", _quote_formula_text(text)
        if isinstance(value, bool):
            return "boolean", value
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time, datetime.timedelta)):
            # A cell given a date or time format is still a number to Excel.
            return "number", Fraction(repr(float(to_excel(value, self.book.epoch))))
        if isinstance(value, int):
            return "number", Fraction(value)
        if isinstance(value, float):
            # repr gives the shortest decimal that reads back as this float: 0.1 is 1/10.
            return "number", Fraction(repr(value))
        if cell.data_type == "e":
            return "error", str(value)
        return "text", str(value)

    def number(self, cell, where: str, label: str, rule: Rule) -> Fraction | None:
        """Read a cell that must hold a number (a constant formula such as =256/2 counts as one)."""
        kind, value = self.content(cell)
        if kind == "formula":
            value = self._constant_formula(value, where, label)
            if value is None:
                return None
        elif kind != "number":
            self.fail(where, f"{label} {self._describe(kind, value)}, not a number: "
                             f"{rule[1] or 'type a number'}")
            return None
        test, fix = rule
        if not test(value):
            self.fail(where, f"{label} is {_show(value)}: {fix}")
            return None
        return value

    def _constant_formula(self, text: str, where: str, label: str) -> Fraction | None:
        try:
            tree = expr.parse(text[1:])
            if tree.names():
                raise expr.ExpressionError("it refers to cells or names")
            return expr.evaluate_number(tree, {})
        except expr.ExpressionError:
            self.fail(where, f"{label} holds the formula {text}, which flopsheet cannot evaluate "
                             "(it reads numbers and arithmetic of numbers here): type the value")
            return None

    @staticmethod
    def _describe(kind: str, value) -> str:
        if kind == "empty":
            return "is empty"
        if kind == "boolean":
            return f"holds the logical value {str(value).upper()}"
        if kind == "error":
            return f"holds the error {value}"
        return f"holds the text {value!r}"

    # Inputs and conventions, through their defined names.

    def named_cell(self, name: str):
        """Return (sheet title, coordinate, cell) of a workbook-scoped defined name, or None."""
        defined = self.book.defined_names.get(name)
        if defined is None:
            return None
        try:
            destinations = list(defined.destinations)
        except (ValueError, KeyError, TypeError):
            destinations = []
        if len(destinations) != 1:
            return None
        sheet, coordinate = destinations[0]
        sheet = sheet.replace("''", "'")
        coordinate = coordinate.replace("$", "")
        if sheet not in self.book.sheetnames or ":" in coordinate:
            return None
        return sheet, coordinate, self.book[sheet][coordinate]

    def read_inputs(self) -> tuple[InputParam, ...]:
        params = []
        for param in self.original.inputs:
            found = self.named_cell(param.name)
            if found is None:
                self.fail(str(self.path), f"the defined name {param.name!r} is missing or does not refer to "
                                          "one cell: restore it (Formulas > Name Manager in Excel, "
                                          "Sheet > Named Ranges in LibreOffice) to the input's value cell")
                continue
            sheet, coordinate, cell = found
            value = self.number(cell, self.at(sheet, coordinate), f"input {param.name}", POSITIVE)
            if value is None:
                continue
            if _same(value, param.default):
                value = param.default
            else:
                self.changes.append(CellChange(self.at(sheet, coordinate), None, param.name, param.default, value))
            params.append(dataclasses.replace(param, default=value))
        return tuple(params)

    def read_conventions(self) -> dict[str, Fraction]:
        values = dict(self.original.conventions)
        for name, old in self.original.conventions.items():
            found = self.named_cell(name)
            if found is None:
                self.warn(str(self.path), f"no cell for the convention {name!r} (no defined name): "
                                          f"using the spec's value {_show(old)}")
                continue
            sheet, coordinate, cell = found
            value = self.number(cell, self.at(sheet, coordinate), f"convention {name}", NON_NEGATIVE)
            if value is None:
                continue
            if _same(value, old):
                continue
            self.changes.append(CellChange(self.at(sheet, coordinate), None, name, old, value))
            values[name] = value
        return values

    # The model sheet.

    def model_sheet(self):
        name = self.original.name
        for title in self.book.sheetnames:
            if title.lower() == name.lower():
                return self.book[title]
        raise SpecError([Problem(str(self.path), f"the model sheet {name!r} is missing: flopsheet finds the "
                                                 "layer table by the model's name, so restore the sheet's "
                                                 "name (sheets: " + ", ".join(self.book.sheetnames) + ")")])

    def header(self, sheet) -> tuple[int, dict[str, int]]:
        """Return the header row and each known column's index (1-based), first occurrence wins."""
        for row in sheet.iter_rows(min_row=1, max_row=MAX_HEADER_ROW):
            labels = {}
            for cell in row:
                if isinstance(cell.value, str):
                    labels.setdefault(cell.value.strip(), cell.column)
            if "Layer" in labels and "MACs" in labels:
                missing = [c for c in LAYER_COLUMNS if c not in labels and c not in
                           ("MACs closed form", "Params closed form")]
                if missing:
                    raise SpecError([Problem(f"{self.path}: sheet {sheet.title!r}, row {row[0].row}",
                                             "the header row lacks the column(s) " + ", ".join(missing)
                                             + ": restore their headers, as flopsheet finds columns by them")])
                return row[0].row, labels
        raise SpecError([Problem(f"{self.path}: sheet {sheet.title!r}",
                                 f"no header row with 'Layer' and 'MACs' in the first {MAX_HEADER_ROW} rows: "
                                 "restore the layer table's header row")])

    def layer_rows(self, sheet, header_row: int, layer_column: int) -> dict[str, int]:
        found: dict[str, list[int]] = {}
        for (cell,) in sheet.iter_rows(min_row=header_row + 1, min_col=layer_column, max_col=layer_column):
            if isinstance(cell.value, str):
                found.setdefault(cell.value.strip(), []).append(cell.row)
        rows: dict[str, int] = {}
        for layer in self.original.layers:
            candidates = found.get(layer.name.strip(), [])
            if not candidates:
                self.fail(f"{self.path}: sheet {sheet.title!r}",
                          f"no row for layer {layer.name!r} (column Layer): the row was deleted or renamed; "
                          "restore it (or rebuild the workbook with flopsheet build), or remove the layer "
                          "from the spec")
                continue
            rows[layer.name] = candidates.pop(0)
        if self.problems:
            raise SpecError(self.problems)
        return rows

    def read_layers(self) -> tuple[list[Layer], dict[str, int], dict[str, int], str]:
        sheet = self.model_sheet()
        header_row, columns = self.header(sheet)
        rows = self.layer_rows(sheet, header_row, columns["Layer"])
        mode = self.original.shape_mode
        layers = []
        for layer in self.original.layers:
            layers.append(self.read_layer(sheet, layer, rows, columns, mode))
        self.check_sum_rows(sheet, header_row, columns, set(rows.values()))
        return layers, rows, columns, sheet.title

    def read_layer(self, sheet, layer: Layer, rows, columns, mode) -> Layer:
        row = rows[layer.name]
        title = sheet.title

        def cell(column: str):
            return sheet.cell(row=row, column=columns[column])

        def where(column: str) -> str:
            return self.at(title, cell(column).coordinate)

        self.check_text(layer, cell, where)
        hyper = dict(layer.hyper)
        for name in HYPERPARAMETERS:
            if name in layer.hyper:
                value = self.number(cell(name), where(name), f"{name} of layer {layer.name!r}",
                                    HYPERPARAMETER_RULES[name])
                if value is not None and not _same(value, layer.hyper[name]):
                    self.changes.append(CellChange(where(name), layer.name, name, layer.hyper[name], value))
                    hyper[name] = value
            elif self.content(cell(name))[0] != "empty":
                self.warn(where(name), f"{name} is not used by layer {layer.name!r} ({layer.label}): "
                                       "the value is ignored")

        out_channels, repeat, fixed = layer.out_channels, layer.repeat, {}
        programs = layer_cells(layer, mode)
        refs = self.refs(layer, rows, columns)
        for column in VALUE_COLUMNS:
            program = programs[column]
            kind, content = self.content(cell(column))
            if program is None:
                if kind != "empty":
                    self.warn(where(column), f"{column} has no value for layer {layer.name!r} "
                                             f"({layer.label}): the cell is ignored")
                continue
            label = f"{column} of layer {layer.name!r}"
            if isinstance(program, expr.Num):
                value = self.number(cell(column), where(column), label,
                                    POSITIVE_WHOLE if column == "C_out" else VALUE_RULES[column])
                if value is None or _same(value, program.value):
                    continue
                self.changes.append(CellChange(where(column), layer.name, column, program.value, value))
                if column == "C_out" and layer.op.c_out is None:
                    out_channels = value
                elif column == "Repeat":
                    repeat = expr.Num(value)
                else:
                    fixed[column] = value
                    self.warn(where(column), f"{label} was {_show(program.value)} and is now {_show(value)}: "
                                             "used as typed")
                continue
            if kind == "formula":
                written = "=" + expr.to_excel(program, refs)
                if _normal_formula(content) != _normal_formula(written):
                    self.warn(where(column), f"{label} holds the edited formula {content} (flopsheet wrote "
                                             f"{written}): flopsheet does not evaluate edited formulas and "
                                             "computes the cell by its rule; type a number to set the value")
                continue
            value = self.number(cell(column), where(column), label, VALUE_RULES[column])
            if value is None:
                continue
            fixed[column] = value
            self.changes.append(CellChange(where(column), layer.name, column, None, value, typed_over=True))
            self.warn(where(column), f"{label}: the formula was replaced by the number {_show(value)}, which "
                                     "is used as typed (the row's formulas and the layers that read this cell "
                                     "use it)")
        return dataclasses.replace(layer, hyper=hyper, out_channels=out_channels, repeat=repeat,
                                   fixed_values=fixed)

    def check_text(self, layer: Layer, cell, where) -> None:
        expected = {"Block": layer.block or "", "Op": layer.label, "From": ", ".join(layer.inputs),
                    "Size of": layer.size_of or ""}
        for column in TEXT_COLUMNS:
            value = cell(column).value
            text = "" if value is None else str(value)
            if text.strip() != expected[column].strip():
                self.warn(where(column), f"{column} of layer {layer.name!r} reads {text!r} instead of "
                                         f"{expected[column]!r}: flopsheet does not read this column (the "
                                         "spec defines it), so the edit has no effect")

    @staticmethod
    def refs(layer: Layer, rows: Mapping[str, int], columns: Mapping[str, int]) -> dict[str, str]:
        """Return the cell references of the layer's formulas at the rows and columns where they are now."""
        row = rows[layer.name]
        refs = _NamesPassThrough()
        for name in list(VALUE_COLUMNS) + list(HYPERPARAMETERS):
            refs[name] = xl_rowcol_to_cell(row - 1, columns[name] - 1)
        for other in set(layer.inputs) | ({layer.size_of} if layer.size_of else set()):
            for column in VALUE_COLUMNS:
                refs[f"@{other}.{column}"] = xl_rowcol_to_cell(rows[other] - 1, columns[column] - 1)
        return refs

    def check_sum_rows(self, sheet, header_row: int, columns, layer_rows: set[int]) -> None:
        """Warn about subtotal and total cells typed over; the table ends at the FLOPs row under the total."""
        labels = [cell for (cell,) in sheet.iter_rows(min_row=header_row + 1, min_col=columns["Layer"],
                                                       max_col=columns["Layer"])]
        last_layer = max(layer_rows)
        total = next((cell.row for cell in labels if cell.row > last_layer and cell.value == "Total"), last_layer)
        for label in labels:
            if label.row in layer_rows or label.value not in SUM_LABELS or label.row > total + 1:
                continue
            for column in ("MACs", "Params"):
                target = sheet.cell(row=label.row, column=columns[column])
                kind, _ = self.content(target)
                if kind not in ("formula", "empty"):
                    self.warn(self.at(sheet.title, target.coordinate),
                              f"the {label.value.lower()} row's {column} formula was replaced: flopsheet sums "
                              "the layer rows and does not read this cell; type a layer's MACs or Params "
                              "instead to change the total")

    # The whole workbook.

    def read(self) -> EditedWorkbook:
        inputs = self.read_inputs()
        conventions = self.read_conventions()
        layers, rows, columns, title = self.read_layers()
        if self.problems:
            raise SpecError(self.problems)
        network = dataclasses.replace(self.original, inputs=inputs, conventions=conventions,
                                      layers=tuple(layers))
        edited = EditedWorkbook(self.path, self.original, network, tuple(self.changes), tuple(self.warnings),
                                title, rows, columns)
        self.check_network(edited)
        return edited

    @staticmethod
    def check_network(edited: EditedWorkbook) -> None:
        """Raise SpecError, naming each layer's row, for shapes the edits made invalid."""
        network = edited.network
        values = compute.evaluate(network)
        by_name = {layer.name: row for layer, row in zip(network.layers, values)}
        problems = []
        for layer, row in zip(network.layers, values):
            message = compute.layer_problem(layer, row, by_name)
            if message:
                message = message.replace("at the default inputs", "at the workbook's inputs")
                problems.append(Problem(f"{edited.row_where(layer.name)} (layer {layer.name!r})", message))
        if problems:
            raise SpecError(problems)
        compute.check(network, values)


def _same(read: Fraction, written: Fraction) -> bool:
    """Tell whether a cell still contains the number flopsheet wrote: 1/3 is stored as the nearest double."""
    return read == written or float(read) == float(written)


def _normal_formula(text: str) -> str:
    return text.replace("$", "").replace(" ", "").upper().lstrip("=")


class _NamesPassThrough(dict):
    """Cell references of a row; any other name (an input or a convention) is a defined name."""

    def __missing__(self, key: str) -> str:
        return key
