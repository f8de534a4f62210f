"""flopsheet: neural-network cost and parameter counts as live-formula workbooks and reports."""

__version__ = "0.1.0"
