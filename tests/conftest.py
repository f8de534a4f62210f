"""Shared pytest configuration for the flopsheet tests."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "libreoffice: runs LibreOffice (soffice); install libreoffice-calc-nogui",
    )
