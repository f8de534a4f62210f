"""Polynomials in a network's inputs with exact coefficients: closed forms kept expanded as they are built.

A ``Polynomial`` maps exponent tuples, one exponent per name in ``names`` (the
network's inputs), to non-zero coefficients. Coefficients are ints where whole
and Fractions otherwise, because int arithmetic is many times faster than
Fraction or sympy arithmetic. A result without any name is returned as a plain
number, so a ``Polynomial`` always depends on at least one input.

The arithmetic functions take numbers, Polynomials and sympy expressions. An
operation that leaves the polynomials (division by a polynomial, ``floor`` of
one, a comparison in ``min``, ...) returns a sympy expression, and every later
operation on it stays in sympy.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Mapping, Union

from .lazy_sympy import sympy


Number = Union[int, Fraction]
Monomial = tuple[int, ...]


def exact(value: Number) -> Number:
    """Return a whole Fraction as an int, any other number unchanged."""
    if type(value) is Fraction and value.denominator == 1:
        return value.numerator
    return value


class Polynomial:
    """A polynomial with at least one non-constant term: exponent tuples mapped to int or Fraction coefficients."""

    __slots__ = ("names", "terms", "_key")

    def __init__(self, names: tuple[str, ...], terms: dict[Monomial, Number]):
        self.names = names
        self.terms = terms
        self._key = None

    @staticmethod
    def variable(names: tuple[str, ...], name: str) -> Polynomial:
        """Return the polynomial of the input ``name``."""
        monomial = tuple(int(other == name) for other in names)
        return Polynomial(names, {monomial: 1})

    # Construction of results: drop zero terms and return constants as plain numbers.

    @staticmethod
    def _result(names: tuple[str, ...], terms: dict[Monomial, Number]):
        constant_monomial = (0,) * len(names)
        if len(terms) == 1 and constant_monomial in terms:
            return terms[constant_monomial]
        if not terms:
            return 0
        return Polynomial(names, terms)

    def key(self) -> frozenset:
        """Return a hashable value that equal polynomials share."""
        if self._key is None:
            self._key = frozenset(self.terms.items())
        return self._key

    def __eq__(self, other) -> bool:
        if isinstance(other, Polynomial):
            return self.names == other.names and self.terms == other.terms
        return False

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        return f"Polynomial({self.as_sympy()})"

    # Arithmetic with numbers and other Polynomials; sympy operands leave the polynomials.

    def __add__(self, other):
        if isinstance(other, Polynomial):
            terms = dict(self.terms)
            for monomial, coefficient in other.terms.items():
                total = terms.get(monomial, 0) + coefficient
                if total:
                    terms[monomial] = exact(total)
                else:
                    del terms[monomial]
            return Polynomial._result(self.names, terms)
        if isinstance(other, (int, Fraction)):
            if not other:
                return self
            terms = dict(self.terms)
            constant_monomial = (0,) * len(self.names)
            total = terms.get(constant_monomial, 0) + other
            if total:
                terms[constant_monomial] = exact(total)
            else:
                del terms[constant_monomial]
            return Polynomial._result(self.names, terms)
        if isinstance(other, sympy.Basic):
            return self.as_sympy() + other
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> Polynomial:
        return Polynomial(self.names, {monomial: -coefficient for monomial, coefficient in self.terms.items()})

    def __sub__(self, other):
        if isinstance(other, sympy.Basic):
            return self.as_sympy() - other
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        if isinstance(other, Polynomial):
            terms: dict[Monomial, Number] = {}
            for left, a in self.terms.items():
                for right, b in other.terms.items():
                    monomial = tuple(x + y for x, y in zip(left, right))
                    total = terms.get(monomial, 0) + a * b
                    if total:
                        terms[monomial] = exact(total)
                    else:
                        del terms[monomial]
            return Polynomial._result(self.names, terms)
        if isinstance(other, (int, Fraction)):
            if other == 1:
                return self
            if not other:
                return 0
            return Polynomial(self.names, {monomial: exact(coefficient * other)
                                           for monomial, coefficient in self.terms.items()})
        if isinstance(other, sympy.Basic):
            return self.as_sympy() * other
        return NotImplemented

    __rmul__ = __mul__

    def power(self, exponent: int):
        """Return this polynomial to a non-negative whole power."""
        result: Polynomial | int = 1
        for _ in range(exponent):
            result = self * result
        return result

    # Values.

    def at(self, values: Mapping[str, Number]) -> Number:
        """Return the exact value with every input taken from ``values``."""
        points = [values[name] for name in self.names]
        total = 0
        for monomial, coefficient in self.terms.items():
            term = coefficient
            for point, exponent in zip(points, monomial):
                if exponent:
                    term = term * point ** exponent
            total += term
        return exact(total)

    def substitute(self, values: Mapping[str, Number]):
        """Return the polynomial with the inputs in ``values`` replaced by numbers, keeping the same names."""
        positions = [index for index, name in enumerate(self.names) if name in values]
        terms: dict[Monomial, Number] = {}
        for monomial, coefficient in self.terms.items():
            term = coefficient
            exponents = list(monomial)
            for index in positions:
                if monomial[index]:
                    term = term * values[self.names[index]] ** monomial[index]
                    exponents[index] = 0
            key = tuple(exponents)
            total = terms.get(key, 0) + term
            if total:
                terms[key] = exact(total)
            else:
                terms.pop(key, None)
        return Polynomial._result(self.names, terms)

    def as_sympy(self, symbols: Mapping[str, sympy.Symbol] | None = None):
        """Return the expanded sympy expression; symbols default to positive ones named after the inputs."""
        if symbols is None:
            symbols = {name: sympy.Symbol(name, positive=True) for name in self.names}
        gens = [symbols[name] for name in self.names]
        terms = []
        for monomial, coefficient in self.terms.items():
            factors = [gen ** exponent for gen, exponent in zip(gens, monomial) if exponent]
            terms.append(sympy.Mul(as_sympy_number(coefficient), *factors))
        return sympy.Add(*terms)

    def _sympy_(self):
        return self.as_sympy()


def as_sympy_number(value: Number):
    """Return an int or Fraction as a sympy Integer or Rational."""
    if type(value) is int:
        return sympy.Integer(value)
    return sympy.Rational(value.numerator, value.denominator)


def as_sympy(value, symbols: Mapping[str, sympy.Symbol] | None = None):
    """Return a number, Polynomial or sympy expression as a sympy expression."""
    if isinstance(value, Polynomial):
        return value.as_sympy(symbols)
    if isinstance(value, (int, Fraction)):
        return as_sympy_number(value)
    return value


def is_number(value) -> bool:
    """Tell whether a value is a plain number (int or Fraction)."""
    return type(value) is int or type(value) is Fraction


# Operations that may leave the polynomials.

def divide(left, right):
    """Divide exactly; raise ZeroDivisionError for a zero number as divisor."""
    if is_number(right):
        if not right:
            raise ZeroDivisionError("division by zero")
        if is_number(left):
            if type(left) is int and type(right) is int:
                return left // right if left % right == 0 else Fraction(left, right)
            return exact(Fraction(left) / right)
        if isinstance(left, Polynomial):
            return left * exact(Fraction(1) / right)
        return left / as_sympy_number(right)
    if isinstance(right, Polynomial) or isinstance(right, sympy.Basic):
        return as_sympy(left) / as_sympy(right)
    raise TypeError(f"cannot divide by {right!r}")


def power(base, exponent):
    """Raise to a whole non-negative power within the polynomials; anything else goes to sympy."""
    if type(exponent) is Fraction and exponent.denominator == 1:
        exponent = exponent.numerator
    if type(exponent) is int:
        if is_number(base):
            return exact(Fraction(base) ** exponent) if exponent < 0 else base ** exponent
        if isinstance(base, Polynomial) and exponent >= 0:
            return base.power(exponent)
    return as_sympy(base) ** as_sympy(exponent)


def floor(value):
    """Return the floor: an int for a number, a sympy expression otherwise."""
    if is_number(value):
        return math.floor(value)
    return sympy.floor(as_sympy(value))


def ceil(value):
    """Return the ceiling: an int for a number, a sympy expression otherwise."""
    if is_number(value):
        return math.ceil(value)
    return sympy.ceiling(as_sympy(value))


def minimum(*values):
    """Return the minimum of numbers, or a sympy ``Min``."""
    if all(is_number(value) for value in values):
        return min(values)
    return sympy.Min(*(as_sympy(value) for value in values))


def maximum(*values):
    """Return the maximum of numbers, or a sympy ``Max``."""
    if all(is_number(value) for value in values):
        return max(values)
    return sympy.Max(*(as_sympy(value) for value in values))


def select(flag, if_set, if_clear):
    """Return ``if_set`` when ``flag`` is non-zero and ``if_clear`` when it is zero; a sympy Piecewise if unknown."""
    if is_number(flag):
        return if_set if flag != 0 else if_clear
    flag = as_sympy(flag)
    if flag.is_number:
        return if_set if flag != 0 else if_clear
    return sympy.Piecewise((as_sympy(if_clear), sympy.Eq(flag, 0)), (as_sympy(if_set), True))
