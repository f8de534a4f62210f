"""Closed forms as text: ``(613314 + 1080·b)·h·w + 262144``, terms grouped by their power of h and w."""

from __future__ import annotations

import sympy

SPATIAL = ("h", "w")


def format_closed_form(expression) -> str:
    """Format an expanded sympy expression, grouping the coefficients of each h-w monomial."""
    expression = sympy.sympify(expression)
    if expression == 0:
        return "0"
    gens = sorted(expression.free_symbols, key=lambda s: (s.name not in SPATIAL, s.name))
    spatial = [g for g in gens if g.name in SPATIAL]
    if not gens:
        return _number(expression)
    try:
        poly = sympy.Poly(expression, *spatial) if spatial else None
    except sympy.PolynomialError:
        poly = None
    if not spatial or poly is None or not all(c.is_polynomial() for c in poly.coeffs()):
        return _plain(expression)
    terms = []
    for monomial, coefficient in sorted(poly.terms(), key=lambda t: (-sum(t[0]), [-e for e in t[0]])):
        factor = "·".join(_power(g, e) for g, e in zip(spatial, monomial) if e)
        terms.append(_term(coefficient, factor))
    return _join(terms)


def _term(coefficient, factor: str) -> str:
    coefficient = sympy.expand(coefficient)
    if not factor:
        return _inner(coefficient)
    if coefficient.is_number:
        if coefficient == 1:
            return factor
        if coefficient == -1:
            return "-" + factor
        return f"{_number(coefficient)}·{factor}"
    inner = _inner(coefficient)
    if isinstance(coefficient, sympy.Add):
        inner = f"({inner})"
    return f"{inner}·{factor}"


def _inner(expression) -> str:
    """Format a polynomial without h and w: constant first, then terms by degree."""
    expression = sympy.expand(expression)
    if expression.is_number:
        return _number(expression)
    parts = []
    for term in sorted(sympy.Add.make_args(expression), key=lambda t: (sympy.total_degree(t), str(t))):
        coefficient, rest = term.as_coeff_Mul()
        if rest == 1:
            parts.append(_number(coefficient))
            continue
        powers = sorted(rest.as_powers_dict().items(), key=lambda p: str(p[0]))
        names = "·".join(_power(base, exp) for base, exp in powers)
        if coefficient == 1:
            parts.append(names)
        elif coefficient == -1:
            parts.append("-" + names)
        else:
            parts.append(f"{_number(coefficient)}·{names}")
    return _join(parts)


def _join(terms: list[str]) -> str:
    text = terms[0]
    for term in terms[1:]:
        text += f" - {term[1:]}" if term.startswith("-") else f" + {term}"
    return text


def _power(base, exponent) -> str:
    return str(base) if exponent == 1 else f"{base}^{exponent}"


def _number(value) -> str:
    if value.is_Float:
        value = sympy.Rational(str(value))
    if value.is_Integer:
        return str(int(value))
    if value.is_Rational:
        as_float = float(value)
        # Exact binary fractions (such as 0.234375) print in full; others as a fraction.
        if sympy.Rational(as_float) == value:
            return repr(as_float)
        return f"{value.p}/{value.q}"
    return str(value)


def _plain(expression) -> str:
    return str(expression).replace("**", "^").replace("*", "·")
