"""A network computed once: every layer's closed forms and its values at the defaults, kept per network.

The workbook, the report, the reconciliation, the comparison and the check at
load time all need the same numbers and closed forms. Computing them once per
network keeps a build's cost linear in the number of layers.

Closed forms are evaluated with the templates of ``flopsheet.programs`` over
``flopsheet.polynomial``'s arithmetic, which keeps them expanded and collected
as they are built. A value at given inputs is then the polynomial evaluated
there. A layer that leaves the polynomials (``floor`` of a size in exact shape
mode, a division by an input, ...) or whose cells raise an error is computed by
``compute.evaluate_layer``, the reference evaluation, which also gives the exact
error message.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping

from . import compute, expr, polynomial, programs
from .cells import layer_cells
from .errors import SpecError
from .lazy_sympy import sympy
from .network import Network
from .polynomial import Polynomial

Row = dict[str, object]
# The fast evaluation raises these where the reference evaluation has the message for the user.
_FAST_PATH_ERRORS = (ArithmeticError, ValueError, KeyError, TypeError)
# Columns whose sympy closed forms are expanded, as the reports show them.
EXPANDED = ("MACs", "Params")


@dataclass
class Analysis:
    """A network's closed forms (numbers, ``Polynomial``s or sympy expressions) and its values at the defaults.

    Equal rows are one shared dict, so a deep network of repeated layers keeps
    few distinct rows in memory. When a layer's values cannot be computed at the
    defaults, ``failed`` is set and every function below falls back to the
    reference evaluation, which raises the error or computes other inputs.
    """

    defaults: dict[str, Fraction]
    values: list[Row]
    forms: list[Row]
    # Layers whose values come from the reference evaluation, by index.
    reference: set[int] = field(default_factory=set)
    failed: bool = False
    symbolic: list[Row] | None = None


# Results computed per network, by the network's id: (a weak reference to it, {name: result}).
_RESULTS: dict[int, tuple[weakref.ref, dict[str, object]]] = {}


def memoized(network: Network, name: str, function: Callable[[Network], object]):
    """Return ``function(network)``, computed on the first call with this network object and ``name``.

    Networks are immutable, so a result stays valid while the network exists. It
    is dropped when the network is garbage collected, before its id can be reused.
    """
    key = id(network)
    found = _RESULTS.get(key)
    if found is None or found[0]() is not network:
        found = _RESULTS[key] = (weakref.ref(network, lambda _, key=key: _RESULTS.pop(key, None)), {})
    results = found[1]
    if name not in results:
        results[name] = function(network)
    return results[name]


def analyse(network: Network) -> Analysis:
    """Return the network's analysis, computing it on the first call for this network object."""
    return memoized(network, "analysis", _analyse)


def values_at(network: Network, inputs: Mapping[str, Fraction]) -> list[Row]:
    """Return every layer's values as Fractions at ``inputs`` (every input of the network)."""
    result = analyse(network)
    if result.failed:
        return compute.evaluate_rows(network, inputs, expr.NUMBERS)
    if dict(inputs) == result.defaults:
        return result.values
    points = {name: polynomial.exact(value) for name, value in inputs.items()}
    shared = compute.shared_values(network, inputs, expr.NUMBERS)
    interned: dict = {}
    # Rows of equal closed forms are one object, so each distinct row is evaluated once.
    by_form: dict[int, Row] = {}
    rows: list[Row] = []
    by_name: dict[str, Row] = {}
    for index, (layer, form) in enumerate(zip(network.layers, result.forms)):
        if index in result.reference:
            row = compute.evaluate_layer(network, layer, layer_cells(layer, network.shape_mode), shared,
                                         by_name, expr.NUMBERS)
        else:
            row = by_form.get(id(form))
            if row is None:
                row = by_form[id(form)] = _numbers(form, points, interned)
        rows.append(row)
        by_name[layer.name] = row
    return rows


def polynomial_rows(network: Network) -> list[Row]:
    """Return every layer's closed forms as numbers, Polynomials or expanded sympy expressions."""
    result = analyse(network)
    return _reference_symbolic(network) if result.failed else result.forms


def symbolic_rows(network: Network) -> list[Row]:
    """Return every layer's closed forms as sympy expressions, MACs and Params expanded."""
    result = analyse(network)
    if result.failed:
        return _reference_symbolic(network)
    if result.symbolic is None:
        symbols = compute.symbols(network)
        converted: dict[int, Row] = {}
        for form in result.forms:
            if id(form) not in converted:
                converted[id(form)] = {column: None if value is None else polynomial.as_sympy(value, symbols)
                                       for column, value in form.items()}
        result.symbolic = [converted[id(form)] for form in result.forms]
    return result.symbolic


def _reference_symbolic(network: Network) -> list[Row]:
    rows = compute.evaluate_rows(network, compute.symbols(network), expr.SYMBOLIC)
    for row in rows:
        for column in EXPANDED:
            row[column] = sympy.expand(row[column])
    return rows


def _analyse(network: Network) -> Analysis:
    try:
        return _Analyser(network).run()
    except SpecError:
        return Analysis(network.input_defaults(), [], [], failed=True)


class _Analyser:
    """Computes a network's rows layer by layer, reusing the rows of layers computed from equal inputs."""

    def __init__(self, network: Network):
        self.network = network
        self.mode = network.shape_mode
        names = tuple(p.name for p in network.inputs)
        self.defaults = network.input_defaults()
        self.points = {name: polynomial.exact(value) for name, value in self.defaults.items()}
        self.shared = {name: polynomial.exact(value) for name, value in network.conventions.items()}
        self.shared.update({name: Polynomial.variable(names, name) for name in names})
        self.reference_shared = None
        self.values_by_name: dict[str, Row] = {}
        self.forms_by_name: dict[str, Row] = {}
        self.interned_numbers: dict = {}
        self.interned_forms: dict = {}

    def run(self) -> Analysis:
        values: list[Row] = []
        forms: list[Row] = []
        reference: set[int] = set()
        # A layer's rows depend only on its template, its hyperparameters and the producer cells it
        # reads, so layers that agree on all three share their rows. The keys contain the objects
        # themselves, which keeps them alive, so no id in a key is reused.
        computed: dict[tuple, tuple[Row, Row, bool]] = {}
        for index, layer in enumerate(self.network.layers):
            template = programs.layer_template(layer, self.mode)
            names = programs.producers(layer)
            key = (template, tuple([polynomial.exact(value) for value in layer.hyper.values()]),
                   tuple([self.forms_by_name[names[position]][column]
                          for _, position, column in template.references]))
            found = computed.get(key)
            if found is None:
                found = computed[key] = self._layer(layer, template)
            form, row, from_reference = found
            if from_reference:
                reference.add(index)
            values.append(row)
            forms.append(form)
            self.values_by_name[layer.name] = row
            self.forms_by_name[layer.name] = form
        return Analysis(self.defaults, values, forms, reference=reference)

    def _layer(self, layer, template) -> tuple[Row, Row, bool]:
        """Return a layer's closed forms, its values at the defaults and whether the reference made them."""
        try:
            form = template.evaluate(layer, self.shared, self.forms_by_name)
        except _FAST_PATH_ERRORS:
            form = None
        row = None if form is None else _numbers(form, self.points, self.interned_numbers)
        from_reference = row is None
        if from_reference:
            if self.reference_shared is None:
                self.reference_shared = compute.shared_values(self.network, self.defaults, expr.NUMBERS)
            cells = layer_cells(layer, self.mode)
            row = compute.evaluate_layer(self.network, layer, cells, self.reference_shared,
                                         self.values_by_name, expr.NUMBERS)
            if form is None:
                form = _symbolic_layer(self.network, layer, cells, self.forms_by_name)
        return _finish(form, self.interned_forms), row, from_reference


def _numbers(form: Row, points: Mapping[str, object], interned: dict) -> Row | None:
    """Return a row's values at ``points`` as Fractions, or None when a cell is not a polynomial."""
    row: Row = {}
    for column, value in form.items():
        if value is None:
            row[column] = None
            continue
        if isinstance(value, Polynomial):
            value = value.at(points)
        elif not polynomial.is_number(value):
            return None
        number = interned.get(value)
        if number is None:
            number = interned[value] = Fraction(value)
        row[column] = number
    return row


def _finish(form: Row, interned: dict) -> Row:
    """Expand sympy MACs and Params, and share one object between equal polynomials."""
    for column, value in form.items():
        if isinstance(value, Polynomial):
            form[column] = interned.setdefault(value.key(), value)
        elif column in EXPANDED and value is not None and not polynomial.is_number(value):
            form[column] = sympy.expand(value)
    return form


def _symbolic_layer(network: Network, layer, cells, forms_by_name: Mapping[str, Row]) -> Row:
    """Evaluate one layer with sympy, reading its producers' closed forms."""
    symbols = compute.symbols(network)
    shared = compute.shared_values(network, symbols, expr.SYMBOLIC)
    by_name = {name: {column: None if value is None else polynomial.as_sympy(value, symbols)
                      for column, value in forms_by_name[name].items()}
               for name in programs.producers(layer)}
    return compute.evaluate_layer(network, layer, cells, shared, by_name, expr.SYMBOLIC)

