"""Building outputs: every file is written to a staging folder first, then moved into place.

A failed build therefore leaves the output folder as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from .errors import OutputError
from .network import Network
from .report import write_model_report
from .report_data import model_report
from .workbook import write_workbook


def prepare_output(folder: Path) -> None:
    """Create the output folder, or raise OutputError saying why it cannot be used."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a folder: choose another output path with -o")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{folder}: cannot create the output folder: {error.strerror}: "
                          "choose another output path with -o") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: the output folder is not writable: choose another with -o")


@contextlib.contextmanager
def staged(folder: Path) -> Iterator[Path]:
    """Yield a staging folder inside ``folder``; remove it afterwards, whatever happened."""
    prepare_output(folder)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".flopsheet-", dir=folder))
    except OSError as error:
        raise OutputError(f"{folder}: cannot write in the output folder: {error.strerror}: "
                          "choose another output path with -o") from None
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_all(networks: Sequence[Network], folder: Path, reports: bool = True) -> list[Path]:
    """Write a workbook (and a report) per network, plus a comparison when there are several."""
    with staged(folder) as staging:
        for network in networks:
            write_workbook([network], staging / f"{network.name}.xlsx", network.title)
            if reports:
                write_model_report(model_report(network), staging)
        if len(networks) > 1:
            from .comparison import write_comparison
            write_comparison(networks, staging, reports=reports)
        return _move_into_place(staging, folder)


def build_reports(networks: Sequence[Network], folder: Path) -> list[Path]:
    """Write each network's report (Markdown, chart and PDF) without a workbook, staged as build_all does."""
    with staged(folder) as staging:
        for network in networks:
            write_model_report(model_report(network), staging)
        return _move_into_place(staging, folder)


def _move_into_place(staging: Path, folder: Path) -> list[Path]:
    # Every target is checked before the first move, so a folder in the way changes nothing.
    paths = sorted(staging.iterdir())
    for path in paths:
        target = folder / path.name
        if target.is_dir():
            raise OutputError(f"{target}: a folder is in the way of an output file: move it")
    written = []
    for path in paths:
        target = folder / path.name
        os.replace(path, target)
        written.append(target)
    return written
