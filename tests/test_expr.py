"""Expression grammar: parsing, exact evaluation and Excel rendering."""

from fractions import Fraction

import pytest

from flopsheet import expr


@pytest.mark.parametrize("text, env, expected", [
    # Precedence: * before +, ^ before *, unary minus.
    ("2 + 3 * 4", {}, 14),
    ("(2 + 3) * 4", {}, 20),
    ("2 * 3 ^ 2", {}, 18),
    ("2 ^ 3 ^ 2", {}, 512),
    ("-3 ^ 2", {}, -9),
    ("10 - 4 - 3", {}, 3),
    ("64 / 4 / 2", {}, 8),
    # Names and fractions stay exact.
    ("(2*n+1)*k", {"n": 3, "k": 2}, 14),
    ("h/32 - 4", {"h": 354}, Fraction(354, 32) - 4),
    ("0.234375 * h * w", {"h": 8, "w": 8}, 15),
])
def test_parse_and_evaluate(text, env, expected):
    assert expr.evaluate_number(expr.parse(text), env) == expected


@pytest.mark.parametrize("text", [
    "__import__('os')", "a.b", "1; 2", "lambda: 1", "x[0]", "a == b", "2 ** 3", "f(x)", "'a'",
])
def test_rejects_anything_but_arithmetic(text):
    with pytest.raises(expr.ExpressionError):
        tree = expr.parse(text)
        expr.evaluate_number(tree, {"a": 1, "b": 1, "x": 1, "f": 1})


@pytest.mark.parametrize("text", ["", "2 +", "(2", "2)", "* 3"])
def test_rejects_incomplete_expressions(text):
    with pytest.raises(expr.ExpressionError):
        expr.parse(text)


def test_unknown_name_is_named():
    with pytest.raises(expr.ExpressionError, match="unknown name 'q'"):
        expr.evaluate_number(expr.parse("2*q"), {})


def test_division_by_zero():
    with pytest.raises(expr.ExpressionError, match="division by zero"):
        expr.evaluate_number(expr.parse("1/(n-n)"), {"n": 2})


def test_deep_nesting_rejected():
    with pytest.raises(expr.ExpressionError):
        expr.parse("(" * 200 + "1" + ")" * 200)


@pytest.mark.parametrize("text, expected", [
    ("a-(b-c)", "a-(b-c)"),
    ("a/(b*c)", "a/(b*c)"),
    ("(a+b)*c", "(a+b)*c"),
    ("-(a^2)", "-(a^2)"),
    ("2^(3^2)", "2^(3^2)"),
    ("h/32-4", "h/32-4"),
])
def test_excel_rendering_keeps_meaning(text, expected):
    names = {n: n for n in "abchw"}
    assert expr.to_excel(expr.parse(text), names) == expected


def test_excel_floor_and_ceil():
    x = expr.Name("x")
    assert expr.to_excel(expr.floor(x / 2), {"x": "B2"}) == "INT(B2/2)"
    assert expr.to_excel(expr.ceil(x / 2) + 1, {"x": "B2"}) == "(-INT(-(B2/2)))+1"


def test_substitute_keeps_other_names():
    tree = expr.substitute(expr.parse("(2*n+1)*c"), {"c": 4})
    assert tree.names() == {"n"}
    assert expr.evaluate_number(tree, {"n": 1}) == 12
