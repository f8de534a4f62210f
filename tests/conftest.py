"""Shared pytest configuration for the flopsheet tests."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from flopsheet.cli import main

SPECS = Path(__file__).resolve().parents[1] / "specs"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "libreoffice: runs LibreOffice (soffice); install libreoffice-calc-nogui",
    )


@pytest.fixture(scope="session")
def built_specs(tmp_path_factory) -> Path:
    """Return a folder with every spec in specs/ built into it, as `make demo` builds output/."""
    folder = tmp_path_factory.mktemp("built-specs")
    result = CliRunner().invoke(main, ["build", str(SPECS), "-o", str(folder)])
    assert result.exit_code == 0, result.output
    return folder
