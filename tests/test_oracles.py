"""Tests for the workbook oracles in oracles.py, run on workbooks built here.

Tests marked ``libreoffice`` run soffice and fail, not skip, when it is
missing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

import oracles
from oracles import (
    as_number,
    csv_cell,
    evaluate_with_formulas,
    find_soffice,
    recalculate,
    set_inputs,
)

LAYER_SHEET = "Layer 2-b"

# Input values stored in the workbook, and the values that set_inputs writes.
INITIAL_INPUTS = {"h": 56, "w": 56, "b": 8, "channels": 64}
EDITED_INPUTS = {"h": 28, "w": 20, "b": 3, f"'{LAYER_SHEET}'!B2": 16}

# (sheet, cell, formula). The formulas use defined names, references to
# another sheet and a reference that names its own sheet (Model!C4).
FORMULAS = [
    ("Model", "C2", "=h*w*64*27"),
    ("Model", "C3", "=b*1000"),
    ("Model", "C4", "=Model!C2+C3"),
    ("Model", "C5", "=INT((h+1)/2)"),
    ("Model", "C6", "=Inputs!B3*2"),
    ("Model", "C7", "=1234567.25*h/56"),
    ("Model", "C8", "=1E+15*b/8"),
    ("Model", "C9", "=2^52+h"),
    (LAYER_SHEET, "B3", "=B2*h*w"),
    (LAYER_SHEET, "B4", "=Model!C4+B3"),
]

# Values for h=56, w=56, b=8 and 64 channels.
EXPECTED_INITIAL = {
    ("Model", "C2"): 56 * 56 * 64 * 27,
    ("Model", "C3"): 8 * 1000,
    ("Model", "C4"): 56 * 56 * 64 * 27 + 8 * 1000,
    ("Model", "C5"): 57 // 2,
    ("Model", "C6"): 56 * 2,
    ("Model", "C7"): 1234567.25,
    ("Model", "C8"): 10**15,
    ("Model", "C9"): 2**52 + 56,
    (LAYER_SHEET, "B3"): 64 * 56 * 56,
    (LAYER_SHEET, "B4"): 56 * 56 * 64 * 27 + 8 * 1000 + 64 * 56 * 56,
}

# Values for h=28, w=20, b=3 and 16 channels.
EXPECTED_EDITED = {
    ("Model", "C2"): 28 * 20 * 64 * 27,
    ("Model", "C3"): 3 * 1000,
    ("Model", "C4"): 28 * 20 * 64 * 27 + 3 * 1000,
    ("Model", "C5"): 29 // 2,
    ("Model", "C6"): 20 * 2,
    ("Model", "C7"): 1234567.25 / 2,
    ("Model", "C8"): 3 * 10**15 // 8,
    ("Model", "C9"): 2**52 + 28,
    (LAYER_SHEET, "B3"): 16 * 28 * 20,
    (LAYER_SHEET, "B4"): 28 * 20 * 64 * 27 + 3 * 1000 + 16 * 28 * 20,
}

# (cell, formula, cached result passed to XlsxWriter) on sheet "Numbers".
# A2 has a wrong cached result on purpose.
NUMBER_FORMULAS = [
    ("A1", "=1+1", 2),
    ("A2", "=1+1", 999),
    ("A3", "=1234567.25*1", 1234567.25),
    ("A4", "=1E+15*1", 10**15),
    ("A5", "=2^53-1", 2**53 - 1),
    ("A6", "=2^53", 2**53),
    ("A7", "=1/3", 1 / 3),
    ("A8", "=1/0", "#DIV/0!"),
]


def build_model_workbook(path: Path) -> Path:
    """Write the Inputs/Model/Layer workbook with correct cached results."""
    workbook = xlsxwriter.Workbook(str(path))
    inputs = workbook.add_worksheet("Inputs")
    workbook.add_worksheet("Model")
    layer = workbook.add_worksheet(LAYER_SHEET)

    for row, name in enumerate(["h", "w", "b"], start=2):
        inputs.write(f"A{row}", name)
        inputs.write(f"B{row}", INITIAL_INPUTS[name])
        workbook.define_name(name, f"=Inputs!$B${row}")
    # A name that refers to two cells, which set_inputs must reject.
    workbook.define_name("hw", "=Inputs!$B$2:$B$3")

    layer.write("A2", "channels")
    layer.write("B2", INITIAL_INPUTS["channels"])
    for sheet, cell, formula in FORMULAS:
        cached = EXPECTED_INITIAL[(sheet, cell)]
        workbook.get_worksheet_by_name(sheet).write_formula(cell, formula, None, cached)

    workbook.close()
    return path


def build_numbers_workbook(path: Path) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Numbers")
    for cell, formula, cached in NUMBER_FORMULAS:
        sheet.write_formula(cell, formula, None, cached)
    workbook.close()
    return path


@pytest.fixture
def model_xlsx(tmp_path: Path) -> Path:
    return build_model_workbook(tmp_path / "model.xlsx")


@pytest.fixture
def numbers_xlsx(tmp_path: Path) -> Path:
    return build_numbers_workbook(tmp_path / "numbers.xlsx")


@pytest.fixture
def require_soffice() -> str:
    try:
        return find_soffice()
    except FileNotFoundError as error:
        pytest.fail(str(error))


def read_cells(xlsx: Path, data_only: bool = False) -> dict[tuple[str, str], object]:
    workbook = openpyxl.load_workbook(xlsx, data_only=data_only)
    return {
        (sheet.title, cell.coordinate): cell.value
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.value is not None
    }


def exported_numbers(sheets: dict[str, list[list[str]]]) -> dict[tuple[str, str], object]:
    """Parse the exported cells listed in EXPECTED_INITIAL."""
    return {
        (sheet, cell): as_number(csv_cell(sheets[sheet], cell))
        for sheet, cell in EXPECTED_INITIAL
    }


def formulas_numbers(results: dict[str, dict[str, object]]) -> dict[tuple[str, str], object]:
    return {(sheet, cell): results[sheet][cell] for sheet, cell in EXPECTED_INITIAL}


# set_inputs


def test_set_inputs_by_defined_name(model_xlsx: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited.xlsx"

    set_inputs(model_xlsx, edited, {"h": 28, "w": 20, "b": 3})

    cells = read_cells(edited)
    assert cells[("Inputs", "B2")] == 28
    assert cells[("Inputs", "B3")] == 20
    assert cells[("Inputs", "B4")] == 3
    assert cells[("Model", "C2")] == "=h*w*64*27"
    assert read_cells(model_xlsx)[("Inputs", "B2")] == 56


def test_set_inputs_by_cell_reference(model_xlsx: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited.xlsx"

    set_inputs(
        model_xlsx,
        edited,
        {f"'{LAYER_SHEET}'!B2": 16, "Inputs!$B$4": 5, "Model!C3": 7},
    )

    cells = read_cells(edited)
    assert cells[(LAYER_SHEET, "B2")] == 16
    assert cells[("Inputs", "B4")] == 5
    assert cells[("Model", "C3")] == 7


def test_set_inputs_name_ignores_case(model_xlsx: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited.xlsx"

    set_inputs(model_xlsx, edited, {"H": 30})

    assert read_cells(edited)[("Inputs", "B2")] == 30


def test_set_inputs_name_on_quoted_sheet(tmp_path: Path) -> None:
    source = tmp_path / "quoted.xlsx"
    workbook = xlsxwriter.Workbook(str(source))
    workbook.add_worksheet("O'Brien 2").write("B2", 1)
    workbook.define_name("depth", "='O''Brien 2'!$B$2")
    workbook.close()
    edited = tmp_path / "edited.xlsx"

    set_inputs(source, edited, {"depth": 4, "'O''Brien 2'!C3": 5})

    cells = read_cells(edited)
    assert cells[("O'Brien 2", "B2")] == 4
    assert cells[("O'Brien 2", "C3")] == 5


def test_set_inputs_drops_cached_results(model_xlsx: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited.xlsx"

    set_inputs(model_xlsx, edited, {})

    assert read_cells(model_xlsx, data_only=True)[("Model", "C2")] == 56 * 56 * 64 * 27
    assert ("Model", "C2") not in read_cells(edited, data_only=True)


def test_set_inputs_missing_name_raises(model_xlsx: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyError, match=r"'depth' not found.*\['b', 'h', 'hw', 'w'\]"):
        set_inputs(model_xlsx, tmp_path / "edited.xlsx", {"depth": 3})


def test_set_inputs_missing_sheet_raises(model_xlsx: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="sheet .*Layer 3.* not found"):
        set_inputs(model_xlsx, tmp_path / "edited.xlsx", {"'Layer 3'!B2": 3})


@pytest.mark.parametrize("key", ["hw", "Inputs!B2:B3", "Inputs!B"])
def test_set_inputs_rejects_non_cell_key(model_xlsx: Path, tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="not .*single cell"):
        set_inputs(model_xlsx, tmp_path / "edited.xlsx", {key: 3})


# as_number and csv_cell


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("0", 0),
        ("-12", -12),
        ("9007199254740993", 2**53 + 1),
        ("1234567.25", 1234567.25),
        ("-2.5", -2.5),
        ("0.00000015", 1.5e-7),
        ("1E+016", 1e16),
        ("9.00719925474099E+015", 9.00719925474099e15),
    ],
)
def test_as_number_parses(text: str, expected: object) -> None:
    value = as_number(text)

    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("text", ["TRUE", "#DIV/0!", "text", "nan", "inf", "1,5"])
def test_as_number_rejects_non_numbers(text: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        as_number(text)


def test_csv_cell_addresses() -> None:
    rows = [["", ""], ["h", "56"]]

    assert csv_cell(rows, "B2") == "56"
    assert csv_cell(rows, "$A$2") == "h"
    assert csv_cell(rows, "C2") == ""
    assert csv_cell(rows, "A9") == ""


# evaluate_with_formulas


def test_formulas_uses_workbook_inputs(model_xlsx: Path) -> None:
    results = evaluate_with_formulas(model_xlsx)

    assert formulas_numbers(results) == EXPECTED_INITIAL
    assert results["Inputs"]["B2"] == 56
    assert results["Inputs"]["A2"] == "h"


def test_formulas_keeps_sheet_title_case(model_xlsx: Path) -> None:
    results = evaluate_with_formulas(model_xlsx)

    assert list(results) == ["Inputs", "Model", LAYER_SHEET]


def test_formulas_overrides_inputs(model_xlsx: Path) -> None:
    results = evaluate_with_formulas(model_xlsx, EDITED_INPUTS)

    assert formulas_numbers(results) == EXPECTED_EDITED


def test_formulas_cell_override_reaches_names(model_xlsx: Path) -> None:
    results = evaluate_with_formulas(model_xlsx, {"Inputs!B2": 28})

    assert results["Model"]["C2"] == 28 * 56 * 64 * 27
    assert results["Model"]["C5"] == 29 // 2


def test_formulas_errors_as_strings(numbers_xlsx: Path) -> None:
    results = evaluate_with_formulas(numbers_xlsx)

    assert results["Numbers"]["A8"] == "#DIV/0!"
    assert results["Numbers"]["A2"] == 2


def test_formulas_array_formula_cells(tmp_path: Path) -> None:
    source = tmp_path / "array.xlsx"
    workbook = xlsxwriter.Workbook(str(source))
    sheet = workbook.add_worksheet("Array")
    sheet.write("B1", 1)
    sheet.write("B2", 2)
    sheet.write_array_formula("A1:A2", "{=B1:B2*2}")
    workbook.close()

    results = evaluate_with_formulas(source, {"Array!B2": 5})

    assert results["Array"]["A1"] == 1 * 2
    assert results["Array"]["A2"] == 5 * 2
    assert results["Array"]["B2"] == 5


def test_formulas_missing_name_raises(model_xlsx: Path) -> None:
    with pytest.raises(KeyError, match="'depth' not found"):
        evaluate_with_formulas(model_xlsx, {"depth": 3})


def test_formulas_unused_empty_cell_raises(model_xlsx: Path) -> None:
    with pytest.raises(KeyError, match="empty and not used by any formula"):
        evaluate_with_formulas(model_xlsx, {"Inputs!Z99": 3})


# LibreOffice


@pytest.mark.libreoffice
@pytest.mark.usefixtures("require_soffice")
class TestRecalculate:
    def test_edited_inputs_recalculated(self, model_xlsx: Path, tmp_path: Path) -> None:
        edited = tmp_path / "edited.xlsx"
        set_inputs(model_xlsx, edited, EDITED_INPUTS)

        sheets = recalculate(edited, tmp_path)

        assert exported_numbers(sheets) == EXPECTED_EDITED

    def test_unedited_file_returns_cached_values(self, model_xlsx: Path, tmp_path: Path) -> None:
        sheets = recalculate(model_xlsx, tmp_path)

        assert exported_numbers(sheets) == EXPECTED_INITIAL
        assert csv_cell(sheets["Inputs"], "A2") == "h"

    def test_agrees_with_formulas(self, model_xlsx: Path, tmp_path: Path) -> None:
        edited = tmp_path / "edited.xlsx"
        set_inputs(model_xlsx, edited, EDITED_INPUTS)

        exported = exported_numbers(recalculate(edited, tmp_path))
        computed = formulas_numbers(evaluate_with_formulas(model_xlsx, EDITED_INPUTS))

        assert exported == computed

    def test_sheet_titles_in_workbook_order(self, model_xlsx: Path, tmp_path: Path) -> None:
        sheets = recalculate(model_xlsx, tmp_path)

        assert list(sheets) == ["Inputs", "Model", LAYER_SHEET]

    def test_xlsxwriter_cache_not_recalculated(self, numbers_xlsx: Path, tmp_path: Path) -> None:
        # LibreOffice 7.4 exports the wrong cached result of A2 unchanged.
        saved = tmp_path / "saved.xlsx"
        set_inputs(numbers_xlsx, saved, {})

        cached = recalculate(numbers_xlsx, tmp_path)["Numbers"]
        computed = recalculate(saved, tmp_path)["Numbers"]

        assert csv_cell(cached, "A2") == "999"
        assert csv_cell(computed, "A2") == "2"

    def test_number_precision(self, numbers_xlsx: Path, tmp_path: Path) -> None:
        saved = tmp_path / "saved.xlsx"
        set_inputs(numbers_xlsx, saved, {})

        rows = recalculate(saved, tmp_path)["Numbers"]

        assert as_number(csv_cell(rows, "A3")) == 1234567.25
        assert as_number(csv_cell(rows, "A4")) == 10**15
        assert as_number(csv_cell(rows, "A5")) == 2**53 - 1
        # Numbers other than integers below 2**53 keep 15 significant digits.
        assert csv_cell(rows, "A6") == "9.00719925474099E+015"
        assert as_number(csv_cell(rows, "A6")) == pytest.approx(2**53, rel=1e-14)
        assert csv_cell(rows, "A7") == "0.333333333333333"
        assert csv_cell(rows, "A8") == "#DIV/0!"

    def test_parallel_runs_agree(self, model_xlsx: Path, tmp_path: Path) -> None:
        edited = tmp_path / "edited.xlsx"
        set_inputs(model_xlsx, edited, EDITED_INPUTS)
        workdirs = [tmp_path / f"run{index}" for index in range(4)]
        for workdir in workdirs:
            workdir.mkdir()

        with ThreadPoolExecutor(max_workers=len(workdirs)) as pool:
            results = list(pool.map(lambda workdir: recalculate(edited, workdir), workdirs))

        for sheets in results:
            assert exported_numbers(sheets) == EXPECTED_EDITED

    def test_missing_output_raises(
        self, model_xlsx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(oracles, "CSV_FILTER", "csv:No Such Filter")

        with pytest.raises(RuntimeError, match="wrote no CSV file for sheet 'Inputs'"):
            recalculate(model_xlsx, tmp_path)

    def test_timeout_raises(
        self, model_xlsx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(oracles, "SOFFICE_TIMEOUT_S", 0.05)

        with pytest.raises(RuntimeError, match="timed out after 0.05 s"):
            recalculate(model_xlsx, tmp_path)
