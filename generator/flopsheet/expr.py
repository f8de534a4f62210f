"""Arithmetic expressions: one tree, rendered as a number, a sympy expression or an Excel formula.

Spec text is parsed by a small recursive-descent grammar of numbers, names,
``+ - * / ^`` and parentheses, so no string from a spec is ever evaluated as
Python. Op rules build the same trees in Python through operator overloading,
and may also use ``floor``, ``ceil``, ``min`` and ``max``, which the spec
grammar does not accept.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Mapping, Union

from .lazy_sympy import sympy


Number = Union[int, Fraction]


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated."""


class UnknownNameError(ExpressionError):
    """An expression that refers to a name with no value."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"unknown name {name!r}")


class Expr:
    """A node of an arithmetic expression tree."""

    __slots__ = ()

    def __add__(self, other): return Bin("+", self, lift(other))
    def __radd__(self, other): return Bin("+", lift(other), self)
    def __sub__(self, other): return Bin("-", self, lift(other))
    def __rsub__(self, other): return Bin("-", lift(other), self)
    def __mul__(self, other): return Bin("*", self, lift(other))
    def __rmul__(self, other): return Bin("*", lift(other), self)
    def __truediv__(self, other): return Bin("/", self, lift(other))
    def __rtruediv__(self, other): return Bin("/", lift(other), self)
    def __pow__(self, other): return Bin("^", self, lift(other))
    def __neg__(self): return Neg(self)

    def names(self) -> set[str]:
        """Return the names this expression refers to."""
        found: set[str] = set()
        _collect_names(self, found)
        return found


@dataclass(frozen=True, slots=True)
class Num(Expr):
    value: Fraction


@dataclass(frozen=True, slots=True)
class Name(Expr):
    id: str


@dataclass(frozen=True, slots=True)
class Neg(Expr):
    operand: Expr


@dataclass(frozen=True, slots=True)
class Bin(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Call(Expr):
    fn: str
    args: tuple[Expr, ...]


def lift(value: Expr | Number | float) -> Expr:
    """Wrap a Python number as a ``Num`` node; return expressions unchanged."""
    if isinstance(value, Expr):
        return value
    return Num(Fraction(value))


def floor(x) -> Expr: return Call("floor", (lift(x),))
def ceil(x) -> Expr: return Call("ceil", (lift(x),))
def minimum(*xs) -> Expr: return Call("min", tuple(lift(x) for x in xs))
def maximum(*xs) -> Expr: return Call("max", tuple(lift(x) for x in xs))
def select(flag, if_set, if_clear) -> Expr: return Call("select", (lift(flag), lift(if_set), lift(if_clear)))


def _collect_names(node: Expr, found: set[str]) -> None:
    if isinstance(node, Name):
        found.add(node.id)
    elif isinstance(node, Neg):
        _collect_names(node.operand, found)
    elif isinstance(node, Bin):
        _collect_names(node.left, found)
        _collect_names(node.right, found)
    elif isinstance(node, Call):
        for arg in node.args:
            _collect_names(arg, found)


# Parsing spec text.

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(.))")
MAX_EXPRESSION_LENGTH = 1000


def parse(text: str | int | float) -> Expr:
    """Parse spec text of numbers, names, ``+ - * / ^`` and parentheses into a tree."""
    if isinstance(text, bool):
        raise ExpressionError(f"expected a number or an arithmetic expression, found {text!r}")
    if isinstance(text, (int, float)):
        if isinstance(text, float) and not math.isfinite(text):
            raise ExpressionError(f"expected a finite number, found {text!r}")
        return Num(Fraction(text))
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters: shorten it")
    parser = _Parser(_tokenize(text), text)
    tree = parser.sum()
    if parser.peek() is not None:
        raise _unexpected(parser.peek()[1], text)
    return tree


def _unexpected(token: str, text: str) -> ExpressionError:
    if "**" in text:
        fix = "write powers with ^, not **"
    elif token == "(":
        fix = "function calls are not supported: use numbers, names, + - * / ^ and parentheses"
    else:
        fix = "use numbers, names, + - * / ^ and parentheses"
    return ExpressionError(f"unexpected {token!r} in {text!r}: {fix}")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    for number, name, other in _TOKEN.findall(text):
        if number:
            tokens.append(("num", number))
        elif name:
            tokens.append(("name", name))
        elif other.strip():
            if other not in "+-*/^()":
                raise ExpressionError(
                    f"invalid character {other!r} in {text!r}: "
                    "use numbers, names, + - * / ^ and parentheses")
            tokens.append(("op", other))
    return tokens


class _Parser:
    """Recursive descent: sum := product (('+'|'-') product)*, and so on down to atoms."""

    MAX_DEPTH = 100

    def __init__(self, tokens: list[tuple[str, str]], text: str):
        self.tokens = tokens
        self.pos = 0
        self.text = text
        self.depth = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] == value:
            self.pos += 1
            return True
        return False

    def sum(self) -> Expr:
        node = self.product()
        while True:
            if self.take("+"):
                node = Bin("+", node, self.product())
            elif self.take("-"):
                node = Bin("-", node, self.product())
            else:
                return node

    def product(self) -> Expr:
        node = self.unary()
        while True:
            if self.take("*"):
                node = Bin("*", node, self.unary())
            elif self.take("/"):
                node = Bin("/", node, self.unary())
            else:
                return node

    def unary(self) -> Expr:
        if self.take("-"):
            return Neg(self.unary())
        if self.take("+"):
            return self.unary()
        return self.power()

    def power(self) -> Expr:
        base = self.atom()
        if self.take("^"):
            return Bin("^", base, self.unary())
        return base

    def atom(self) -> Expr:
        token = self.peek()
        if token is None:
            raise ExpressionError(f"expression {self.text!r} ends too early: complete it")
        kind, value = token
        self.pos += 1
        if kind == "num":
            return Num(Fraction(value))
        if kind == "name":
            return Name(value)
        if value == "(":
            self.depth += 1
            if self.depth > self.MAX_DEPTH:
                raise ExpressionError(f"parentheses nested deeper than {self.MAX_DEPTH} levels: simplify it")
            node = self.sum()
            if not self.take(")"):
                raise ExpressionError(f"missing ')' in {self.text!r}: close every parenthesis")
            self.depth -= 1
            return node
        raise _unexpected(value, self.text)


def substitute(node: Expr, values: Mapping[str, Expr | Number]) -> Expr:
    """Replace the names in ``values`` by their values, keeping the other names."""
    if isinstance(node, Name):
        return lift(values[node.id]) if node.id in values else node
    if isinstance(node, Neg):
        return Neg(substitute(node.operand, values))
    if isinstance(node, Bin):
        return Bin(node.op, substitute(node.left, values), substitute(node.right, values))
    if isinstance(node, Call):
        return Call(node.fn, tuple(substitute(arg, values) for arg in node.args))
    return node


# Evaluation.

@dataclass(frozen=True)
class Backend:
    """The arithmetic an evaluation uses: exact numbers or sympy."""

    floor: Callable
    ceil: Callable
    min: Callable
    max: Callable
    select: Callable
    number: Callable


# Bounds on powers, checked before computing them: exact arithmetic on 9^9^9 (370 million digits)
# would run for minutes, and a symbolic (h + w + b)^1000 expands into half a million terms.
MAX_POWER_BITS = 10_000
MAX_SYMBOLIC_EXPONENT = 32


def _exact_power(base, exponent):
    if isinstance(exponent, Fraction) and exponent.denominator != 1:
        raise ExpressionError(f"fractional exponent {exponent} is not supported: use a whole exponent")
    _check_power_size(Fraction(base), int(exponent))
    return base ** int(exponent)


def _check_power_size(base: Fraction, exponent: int) -> None:
    if base in (0, 1, -1):
        return
    bits = abs(exponent) * max(abs(base.numerator).bit_length(), base.denominator.bit_length())
    if bits > MAX_POWER_BITS:
        raise ExpressionError(f"the power {base}^{exponent} is too large (about {bits} bits): "
                              "Excel's numbers end near 1E+308, so use a smaller exponent")


def _symbolic_power(base, exponent):
    if base.is_Rational and exponent.is_Integer:
        _check_power_size(Fraction(int(base.p), int(base.q)), int(exponent))
    elif exponent.is_number and abs(exponent) > MAX_SYMBOLIC_EXPONENT:
        raise ExpressionError(f"exponent {exponent} is too large for a closed form: "
                              f"use at most {MAX_SYMBOLIC_EXPONENT}")
    return base ** exponent


def _select_number(flag, if_set, if_clear):
    return if_set if flag != 0 else if_clear


def _select_symbolic(flag, if_set, if_clear):
    if flag.is_number:
        return if_set if flag != 0 else if_clear
    return sympy.Piecewise((if_clear, sympy.Eq(flag, 0)), (if_set, True))


NUMBERS = Backend(floor=math.floor, ceil=math.ceil, min=min, max=max, select=_select_number,
                  number=lambda f: f)
# The lambdas look sympy up when called, so importing this module does not import sympy.
SYMBOLIC = Backend(floor=lambda x: sympy.floor(x), ceil=lambda x: sympy.ceiling(x),
                   min=lambda *xs: sympy.Min(*xs), max=lambda *xs: sympy.Max(*xs),
                   select=_select_symbolic,
                   number=lambda f: sympy.Rational(f.numerator, f.denominator))


def evaluate(node: Expr, env: Mapping[str, object], backend: Backend = NUMBERS):
    """Evaluate a tree with names taken from ``env``; raise ExpressionError on unknown names."""
    if isinstance(node, Num):
        return backend.number(node.value)
    if isinstance(node, Name):
        try:
            return env[node.id]
        except KeyError:
            raise UnknownNameError(node.id) from None
    if isinstance(node, Neg):
        return -evaluate(node.operand, env, backend)
    if isinstance(node, Bin):
        left = evaluate(node.left, env, backend)
        right = evaluate(node.right, env, backend)
        return _apply(node.op, left, right, backend)
    if isinstance(node, Call):
        args = [evaluate(arg, env, backend) for arg in node.args]
        return getattr(backend, node.fn)(*args)
    raise TypeError(f"not an expression node: {node!r}")


def _apply(op: str, left, right, backend: Backend):
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        if backend is NUMBERS:
            if right == 0:
                raise ExpressionError("division by zero: use a non-zero divisor")
            return Fraction(left) / Fraction(right)
        if right == 0:
            raise ExpressionError("division by zero: use a non-zero divisor")
        return left / right
    if op == "^":
        if backend is NUMBERS:
            return _exact_power(Fraction(left), Fraction(right))
        return _symbolic_power(left, right)
    raise ExpressionError(f"unknown operator {op!r}")


def evaluate_number(node: Expr, env: Mapping[str, Number]) -> Fraction:
    """Evaluate a tree exactly, as a Fraction."""
    return Fraction(evaluate(node, env, NUMBERS))


def evaluate_symbolic(node: Expr, env: Mapping[str, object]):
    """Evaluate a tree as a sympy expression."""
    return evaluate(node, env, SYMBOLIC)


# Rendering as an Excel formula.

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 4}
_EXCEL_FUNCTIONS = {"floor": "INT", "min": "MIN", "max": "MAX"}


def to_excel(node: Expr, refs: Mapping[str, str]) -> str:
    """Render a tree as Excel formula text (without '='), with names replaced by ``refs``."""
    return _excel(node, refs, 0)


def _excel(node: Expr, refs: Mapping[str, str], parent: int) -> str:
    if isinstance(node, Num):
        return _excel_number(node.value)
    if isinstance(node, Name):
        try:
            return refs[node.id]
        except KeyError:
            raise UnknownNameError(node.id) from None
    if isinstance(node, Neg):
        # Excel's unary minus binds tighter than ^ (=-2^2 is 4), so any compound operand keeps its parentheses.
        text = "-" + _excel(node.operand, refs, 5)
        return f"({text})" if parent >= 2 else text
    if isinstance(node, Call):
        args = ",".join(_excel(arg, refs, 0) for arg in node.args)
        if node.fn == "ceil":
            # Excel's INT rounds towards minus infinity, so -INT(-x) is the ceiling of x.
            return f"-INT(-({args}))" if parent == 0 else f"(-INT(-({args})))"
        if node.fn == "select":
            return f"IF({args})"
        return f"{_EXCEL_FUNCTIONS[node.fn]}({args})"
    precedence = _PRECEDENCE[node.op]
    left = _excel(node.left, refs, precedence)
    # The right operand of - and / binds tighter, so a-(b-c) keeps its parentheses.
    right_parent = precedence + (1 if node.op in "-/^" else 0)
    right = _excel(node.right, refs, right_parent)
    text = f"{left}{node.op}{right}"
    return f"({text})" if precedence < parent else text


def _excel_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    if Fraction(as_float) == value:
        return repr(as_float)
    return f"({value.numerator}/{value.denominator})"
