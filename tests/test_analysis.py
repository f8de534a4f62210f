"""Values and closed forms from layer templates and polynomials against the reference evaluation.

``compute.evaluate_rows`` walks every layer's expression trees with Fractions or
with sympy; it is the reference. ``compute.evaluate``, ``compute.closed_forms``
and ``compute.polynomial_forms`` take the fast path of flopsheet.analysis, which
must give the same numbers, the same closed forms and the same errors.
"""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

from flopsheet import compute, expr
from flopsheet.closed_form import format_closed_form
from flopsheet.errors import SpecError
from flopsheet.load import load_network, load_text
from flopsheet.polynomial import Polynomial

from support import SPECS, write_spec
from test_workbook import EVERY_OP

# A repeat count that divides by zero at the default h only.
POLE_AT_DEFAULT = """
model: {name: pole}
inputs:
  h: {default: 224}
layers:
  - {name: data, op: input, channels: 3}
  - {name: conv, op: conv2d, out_channels: 8, kernel: 3, padding: 1, repeat: "1/(h-224)"}
"""


def reference_values(network, inputs=None):
    return compute.evaluate_rows(network, inputs or network.input_defaults(), expr.NUMBERS)


def reference_forms(network):
    rows = compute.evaluate_rows(network, compute.symbols(network), expr.SYMBOLIC)
    for row in rows:
        row["MACs"] = sympy.expand(row["MACs"])
        row["Params"] = sympy.expand(row["Params"])
    return rows


def networks(tmp_path: Path):
    """Every op in both shape modes, the bundled specs and the zoo."""
    found = [load_network(write_spec(tmp_path, EVERY_OP.format(mode=mode), f"every-{mode}.yaml"))
             for mode in ("ideal", "exact")]
    found += [load_network(path) for path in sorted(SPECS.glob("*.yaml")) + sorted(SPECS.glob("zoo/*.yaml"))]
    return found


def test_values_match_reference(tmp_path):
    for network in networks(tmp_path):
        fast = compute.evaluate(network)
        reference = reference_values(network)
        assert fast == reference, network.name
        assert all(type(value) is type(other) for row, other_row in zip(fast, reference)
                   for value, other in zip(row.values(), other_row.values())), network.name


def test_values_at_other_inputs_match_reference(tmp_path):
    for network in networks(tmp_path):
        inputs = {name: value * 3 + 1 for name, value in network.input_defaults().items()}
        assert compute.evaluate(network, inputs) == reference_values(network, inputs), network.name


def test_closed_forms_match_reference(tmp_path):
    for network in networks(tmp_path):
        fast = compute.closed_forms(network)
        reference = reference_forms(network)
        for layer, row, other in zip(network.layers, fast, reference):
            assert row["MACs"] == other["MACs"], (network.name, layer.name)
            assert row["Params"] == other["Params"], (network.name, layer.name)
            for column, value in row.items():
                if value is not None:
                    assert sympy.expand(value - other[column]) == 0, (network.name, layer.name, column)


def test_polynomial_forms_format_as_reference(tmp_path):
    for network in networks(tmp_path):
        fast = compute.polynomial_forms(network)
        reference = reference_forms(network)
        for layer, row, other in zip(network.layers, fast, reference):
            for column in ("MACs", "Params"):
                assert format_closed_form(row[column]) == format_closed_form(other[column]), (
                    network.name, layer.name, column)


def test_error_at_defaults_matches_reference(tmp_path):
    network = load_text(POLE_AT_DEFAULT, tmp_path / "pole.yaml", check=False)
    with pytest.raises(SpecError) as fast:
        compute.evaluate(network)
    with pytest.raises(SpecError) as reference:
        reference_values(network)
    assert str(fast.value) == str(reference.value)
    assert "division by zero" in str(fast.value)


def test_error_at_defaults_leaves_other_inputs(tmp_path):
    network = load_text(POLE_AT_DEFAULT, tmp_path / "pole.yaml", check=False)
    inputs = {"h": Fraction(226), "w": Fraction(224), "b": Fraction(1)}
    rows = compute.evaluate(network, inputs)
    assert rows == reference_values(network, inputs)
    # 1/(226 - 224) passes at 226 x 224: half the conv's 226·224·8·27 MACs.
    assert rows[-1]["MACs"] == Fraction(226 * 224 * 8 * 27, 2)


def random_polynomial(generator: random.Random, names: tuple[str, ...]):
    terms = {}
    for _ in range(generator.randint(1, 6)):
        monomial = tuple(generator.choice((0, 0, 1, 1, 2)) for _ in names)
        coefficient = generator.choice((1, -1, 3, -7, 1080, 613314, Fraction(1, 4), Fraction(-3, 4),
                                        Fraction(99691, 4), Fraction(1, 3), Fraction(5, 7)))
        terms[monomial] = terms.get(monomial, 0) + coefficient
    terms = {monomial: coefficient for monomial, coefficient in terms.items() if coefficient}
    return Polynomial._result(names, terms)


@pytest.mark.parametrize("names", [("h", "w", "b"), ("h", "w", "b", "n", "k"), ("w", "b"), ("b", "h", "n", "w")])
def test_polynomial_text_matches_sympy_text(names):
    generator = random.Random(7)
    for _ in range(300):
        value = random_polynomial(generator, names)
        expected = format_closed_form(sympy.expand(value.as_sympy() if isinstance(value, Polynomial)
                                                   else sympy.Rational(value)))
        assert format_closed_form(value) == expected, value


def test_polynomial_arithmetic_matches_sympy():
    generator = random.Random(11)
    names = ("h", "w", "b")
    symbols = {name: sympy.Symbol(name, positive=True) for name in names}
    for _ in range(150):
        left, right = random_polynomial(generator, names), random_polynomial(generator, names)
        as_sympy = [value.as_sympy(symbols) if isinstance(value, Polynomial) else sympy.Rational(value)
                    for value in (left, right)]
        for result, expected in ((left + right, as_sympy[0] + as_sympy[1]),
                                 (left - right, as_sympy[0] - as_sympy[1]),
                                 (left * right, as_sympy[0] * as_sympy[1])):
            got = result.as_sympy(symbols) if isinstance(result, Polynomial) else sympy.Rational(result)
            assert sympy.expand(got - expected) == 0
