"""sympy, imported on first use.

Importing sympy takes about half a second. A build whose closed forms are all
polynomials (flopsheet.polynomial) and whose spec states no claims never
calls it, so the modules on that path refer to sympy through this object.
"""

from __future__ import annotations

import importlib


class _LazySympy:
    """Forwards attribute lookups to the sympy module, importing it on the first one."""

    def __getattr__(self, name: str):
        value = getattr(importlib.import_module("sympy"), name)
        # Later lookups of the same name find it here and skip __getattr__.
        setattr(self, name, value)
        return value


sympy = _LazySympy()
