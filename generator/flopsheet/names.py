"""Excel's rules for defined names and sheet names, checked before anything is written."""

from __future__ import annotations

import re

MAX_SHEET_NAME = 31
SHEET_NAME_FORBIDDEN = set("[]:*?/\\")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A1 references (up to column XFD), and names that start like one, as c1_macs does.
_STARTS_LIKE_A1 = re.compile(r"^[A-Za-z]{1,3}[0-9]")
# R1C1 references: R, C, R1, C1, RC, R1C1, R2C, ...
_R1C1 = re.compile(r"^[Rr][0-9]*([Cc][0-9]*)?$|^[Cc][0-9]*$")


def defined_name_problem(name: str) -> str | None:
    """Return why ``name`` cannot be an Excel defined name, or None if it can."""
    if not _IDENTIFIER.match(name):
        return "use letters, digits and '_', starting with a letter or '_'"
    if _R1C1.match(name):
        return "Excel reads it as an R1C1 cell reference (R, C, R1C1, ...)"
    if _STARTS_LIKE_A1.match(name):
        return "Excel reads it, or its start, as a cell reference such as B1 or AB12"
    if len(name) > 255:
        return "Excel limits defined names to 255 characters"
    return None


def sheet_name_problem(name: str) -> str | None:
    """Return why ``name`` cannot be an Excel sheet name, or None if it can."""
    if not name:
        return "a sheet name cannot be empty"
    if len(name) > MAX_SHEET_NAME:
        return f"Excel limits sheet names to {MAX_SHEET_NAME} characters ({len(name)} here)"
    bad = sorted(set(name) & SHEET_NAME_FORBIDDEN)
    if bad:
        return f"Excel forbids {' '.join(bad)} in sheet names"
    if name.startswith("'") or name.endswith("'"):
        return "Excel forbids an apostrophe at the start or end of a sheet name"
    return None
