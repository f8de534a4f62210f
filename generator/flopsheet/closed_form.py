"""Closed forms as text: ``(613314 + 1080·b)·h·w + 262144``, terms grouped by their power of h and w."""

from __future__ import annotations

from fractions import Fraction

from .lazy_sympy import sympy
from .polynomial import Polynomial

SPATIAL = ("h", "w")


def format_closed_form(expression) -> str:
    """Format an expanded sympy expression, a ``Polynomial`` or a number, grouping the coefficients
    of each h-w monomial."""
    if type(expression) is int or type(expression) is Fraction:
        return "0" if expression == 0 else _rational(expression)
    if isinstance(expression, Polynomial):
        text = _format_polynomial(expression)
        if text is not None:
            return text
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


def _rational(value: int | Fraction) -> str:
    """Format an exact number as ``_number`` formats the same sympy Rational."""
    if type(value) is int or value.denominator == 1:
        return str(int(value))
    as_float = float(value)
    if Fraction(as_float) == value:
        return repr(as_float)
    return f"{value.numerator}/{value.denominator}"


def _format_polynomial(poly: Polynomial) -> str | None:
    """Format a Polynomial as ``format_closed_form`` formats its sympy expression, without sympy.

    Returns None for the forms whose text depends on sympy's printing order: no h
    or w at all, or a coefficient of an h-w monomial with a product or a power of
    other inputs. Those go through sympy.
    """
    names = poly.names
    spatial = sorted((name, index) for index, name in enumerate(names) if name in SPATIAL)
    positions = [index for _, index in spatial]
    groups: dict[tuple[int, ...], dict[tuple[int, ...], object]] = {}
    for monomial, coefficient in poly.terms.items():
        key = tuple(monomial[index] for index in positions)
        rest = tuple(0 if index in positions else exponent for index, exponent in enumerate(monomial))
        groups.setdefault(key, {})[rest] = coefficient
    if all(not any(key) for key in groups):
        return None
    constant = (0,) * len(names)
    terms = []
    for key in sorted(groups, key=lambda k: (-sum(k), [-e for e in k])):
        factor = "·".join(_power(name, exponent) for (name, _), exponent in zip(spatial, key) if exponent)
        coefficient = groups[key]
        if list(coefficient) == [constant]:
            value = coefficient[constant]
            if not factor:
                terms.append(_rational(value))
            elif value == 1:
                terms.append(factor)
            elif value == -1:
                terms.append("-" + factor)
            else:
                terms.append(f"{_rational(value)}·{factor}")
            continue
        inner = _format_linear(coefficient, names, constant)
        if inner is None:
            return None
        text, parts = inner
        if not factor:
            terms.append(text)
        else:
            terms.append(f"({text})·{factor}" if parts > 1 else f"{text}·{factor}")
    return _join(terms)


def _format_linear(coefficient: dict, names: tuple[str, ...], constant: tuple[int, ...]):
    """Format a coefficient of a constant and single inputs as ``_inner`` does; None for anything else.

    Returns the text and its number of terms. ``_inner`` sorts terms by degree,
    then by sympy's text of the term, which this rebuilds: ``3*b``, ``b/4``, ``-3*b/4``.
    """
    keyed = []
    for monomial, value in coefficient.items():
        if monomial == constant:
            keyed.append(((0, ""), _rational(value)))
            continue
        if sorted(monomial) != [0] * (len(monomial) - 1) + [1]:
            return None
        name = names[monomial.index(1)]
        value = Fraction(value)
        numerator, denominator = value.numerator, value.denominator
        if numerator == 1:
            printed = name
        elif numerator == -1:
            printed = "-" + name
        else:
            printed = f"{numerator}*{name}"
        if denominator != 1:
            printed += f"/{denominator}"
        if value == 1:
            term = name
        elif value == -1:
            term = "-" + name
        else:
            term = f"{_rational(value)}·{name}"
        keyed.append(((1, printed), term))
    keyed.sort(key=lambda item: item[0])
    return _join([term for _, term in keyed]), len(keyed)
