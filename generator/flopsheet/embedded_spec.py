"""The spec text each workbook carries in a very hidden sheet, so an edited workbook can be read back.

The sheet ``Spec`` has a header row and then one row per part of a model's
spec text. A row has the model's sheet name, the convention preset the build
used (empty for the spec's own), the SHA-256 of the whole text, the part's
number and the part. Parts hold at most ``PART_LENGTH`` characters, far below
Excel's limit of 32,767 characters per cell, and end at a line break where the
line allows it. The text is stored with ``\\n`` line breaks, because XlsxWriter
escapes a carriage return as ``_x000D_`` and openpyxl 3.1 reads that escape
back literally.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .errors import Problem, SpecError

SHEET = "Spec"
HEADER = ("Model", "Preset", "SHA-256", "Part", "Text")
PART_LENGTH = 8000


@dataclass(frozen=True)
class EmbeddedSpec:
    """A model's spec as a workbook stores it."""

    sheet: str
    preset: str | None
    text: str


def normalize(text: str) -> str:
    """Return ``text`` with every line break as ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def digest(text: str) -> str:
    """Return the SHA-256 of ``text`` in UTF-8, as hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_parts(text: str, limit: int = PART_LENGTH) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters, at line ends where possible."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current or not parts:
        parts.append(current)
    return parts


def write_spec_sheet(book, specs: list[EmbeddedSpec]) -> None:
    """Add the very hidden ``Spec`` sheet to an XlsxWriter workbook."""
    sheet = book.add_worksheet(SHEET)
    for column, title in enumerate(HEADER):
        sheet.write_string(0, column, title)
    row = 1
    for spec in specs:
        text = normalize(spec.text)
        checksum = digest(text)
        for number, part in enumerate(split_parts(text), start=1):
            sheet.write_string(row, 0, spec.sheet)
            sheet.write_string(row, 1, spec.preset or "")
            sheet.write_string(row, 2, checksum)
            sheet.write_number(row, 3, number)
            sheet.write_string(row, 4, part)
            row += 1
    sheet.very_hidden()


def read_spec_sheet(book, where: str) -> list[EmbeddedSpec]:
    """Return the specs stored in an openpyxl workbook's ``Spec`` sheet, in the order they were written.

    ``where`` names the workbook in messages. Raises SpecError when the sheet is
    missing, a part is missing or out of order, or a text does not match its checksum.
    """
    if SHEET not in book.sheetnames:
        raise SpecError([Problem(where, f"the hidden sheet {SHEET!r} that stores the spec is missing: "
                                        "read only workbooks that flopsheet build wrote, or rebuild "
                                        "this one from its spec")])
    sheet = book[SHEET]
    parts: dict[str, list] = {}
    presets: dict[str, str | None] = {}
    checksums: dict[str, str] = {}
    for row in sheet.iter_rows(min_row=2):
        model, preset, checksum, number, text = (cell.value for cell in row[:5]) if len(row) >= 5 else (None,) * 5
        if model is None and text is None:
            continue
        model = str(model)
        parts.setdefault(model, []).append((number, "" if text is None else str(text), row[0].row))
        presets[model] = str(preset) if preset else None
        checksums[model] = str(checksum)
    if not parts:
        raise SpecError([Problem(where, f"the hidden sheet {SHEET!r} holds no spec: rebuild the workbook "
                                        "from its spec")])
    specs = []
    for model, pieces in parts.items():
        numbers = [number for number, _, _ in pieces]
        if numbers != list(range(1, len(pieces) + 1)):
            raise SpecError([Problem(f"{where}: sheet {SHEET!r}",
                                     f"the parts of model {model!r}'s spec are numbered {numbers}, "
                                     "not 1, 2, ...: the hidden sheet was changed; rebuild the workbook "
                                     "from its spec")])
        text = "".join(part for _, part, _ in pieces)
        if digest(text) != checksums[model]:
            raise SpecError([Problem(f"{where}: sheet {SHEET!r}",
                                     f"model {model!r}'s spec text does not match its SHA-256: the hidden "
                                     "sheet was changed; rebuild the workbook from its spec")])
        specs.append(EmbeddedSpec(model, presets[model], text))
    return specs
