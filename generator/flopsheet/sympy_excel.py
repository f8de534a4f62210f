"""Rendering a closed form (a sympy expression) as an Excel formula over named cells."""

from __future__ import annotations

from typing import Mapping

import sympy


def to_excel(expression, names: Mapping[str, str]) -> str:
    """Render ``expression`` as formula text (without '='); each symbol becomes ``names[symbol]``."""
    return _render(sympy.sympify(expression), names)


def _render(node, names) -> str:
    if node.is_Symbol:
        return names[node.name]
    if node.is_Integer:
        return _signed(str(int(node)))
    if node.is_Rational:
        return f"({node.p}/{node.q})"
    if node.is_Float:
        return _signed(repr(float(node)))
    if node.is_Add:
        terms = [_render(arg, names) for arg in sympy.Add.make_args(node)]
        return "(" + "+".join(terms) + ")"
    if node.is_Mul:
        return "(" + "*".join(_render(arg, names) for arg in node.args) + ")"
    if node.is_Pow:
        return f"({_render(node.base, names)}^{_render(node.exp, names)})"
    if isinstance(node, sympy.floor):
        return f"INT({_render(node.args[0], names)})"
    if isinstance(node, sympy.ceiling):
        return f"(-INT(-{_render(node.args[0], names)}))"
    if isinstance(node, sympy.Min):
        return "MIN(" + ",".join(_render(a, names) for a in node.args) + ")"
    if isinstance(node, sympy.Max):
        return "MAX(" + ",".join(_render(a, names) for a in node.args) + ")"
    raise ValueError(f"cannot render {node} as an Excel formula")


def _signed(text: str) -> str:
    return f"({text})" if text.startswith("-") else text
