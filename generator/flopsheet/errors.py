"""Errors that reach the user: each names a place, what is wrong and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, at a file and line (or a sheet and cell)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class FlopsheetError(Exception):
    """An error caused by the user's input or environment, reported without a traceback."""


class SpecError(FlopsheetError):
    """A spec that cannot be read or is not a valid network."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class OutputError(FlopsheetError):
    """An output path that cannot be written."""


def location(path: Path | str, line: int | None) -> str:
    """Format a place in a file as ``path:line``."""
    return f"{path}:{line}" if line else str(path)
