"""Reconciliation: each figure a spec's source states, compared with what the spec computes.

A claim matches when its closed form equals the computed one exactly. A
mismatch gets its difference, as an expression and at the default inputs, and
every diagnosis that explains the difference exactly. The diagnoses are an
arithmetic slip in the source's own terms, a constant folded into the
coefficient of h·w, rounding, a kernel size that differs between cost and
parameters, a layer left out or counted twice, and a total that is not the sum
of its stated parts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import sympy

from . import expr
from .closed_form import format_closed_form
from .analysis import memoized
from .compute import closed_forms, symbols
from .network import Claim, Network

COLUMN = {"macs": "MACs", "params": "Params"}
# The search for block labels whose layers explain a difference tries every subset of at most this many.
MAX_SUBSET_BLOCKS = 14
# A kernel-size explanation considers square kernels up to this size.
MAX_KERNEL = 15
# The kernel-size explanation applies to figures that cover at most this many convolutions.
MAX_KERNEL_CANDIDATES = 3


@dataclass(frozen=True)
class Result:
    """One claim's reconciliation; the difference is the stated value minus the computed one."""

    model: str
    claim: str
    kind: str
    scope: str
    claimed: str
    computed: str
    difference: str
    claimed_at_defaults: float | int
    computed_at_defaults: float | int
    difference_at_defaults: float | int
    status: str
    diagnosis: str
    line: int | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _symbolic(tree: expr.Expr, syms: dict):
    return sympy.expand(expr.evaluate_symbolic(tree, syms))


class _Reconciler:
    """Computes every claim of one network and explains the mismatches."""

    def __init__(self, network: Network):
        self.network = network
        self.syms = symbols(network)
        self.forms = closed_forms(network)
        self.by_name = {layer.name: (layer, form) for layer, form in zip(network.layers, self.forms)}
        self.uncovered: list[str] = []
        self.defaults = {self.syms[p.name]: sympy.Rational(p.default.numerator, p.default.denominator)
                         for p in network.inputs}

    def computed(self, claim: Claim):
        column = COLUMN[claim.kind]
        value = sympy.Integer(0)
        for name in self._scope(claim):
            layer, form = self.by_name[name]
            part = form[column]
            if claim.per_pass and layer.repeat is not None and not (column == "Params" and layer.share_weights):
                part = sympy.cancel(part / form["Repeat"])
            value += part
        return self._at(claim, sympy.expand(value))

    def claimed(self, claim: Claim):
        return self._at(claim, _symbolic(claim.value, self.syms))

    def _at(self, claim: Claim, value):
        if claim.at is None:
            return value
        fixed = {self.syms[name]: sympy.Rational(v.numerator, v.denominator) for name, v in claim.at.items()}
        return sympy.expand(value.xreplace(fixed))

    def results(self) -> list[Result]:
        return [self.result(claim) for claim in self.network.claims]

    def result(self, claim: Claim) -> Result:
        computed = self.computed(claim)
        claimed = self.claimed(claim)
        difference = sympy.expand(claimed - computed)
        status = "match" if difference == 0 else "mismatch"
        diagnosis = "" if status == "match" else self.diagnose(claim, computed, claimed, difference)
        return Result(
            model=self.network.name, claim=claim.name, kind=claim.kind, scope=claim.scope,
            claimed=format_closed_form(claimed), computed=format_closed_form(computed),
            difference=format_closed_form(difference),
            claimed_at_defaults=self._plain(claimed), computed_at_defaults=self._plain(computed),
            difference_at_defaults=self._plain(difference),
            status=status, diagnosis=diagnosis, line=claim.line)

    def _plain(self, value) -> int | float:
        """Return a closed form's value at the default inputs: an int when whole."""
        # xreplace swaps the symbols for numbers as subs does, many times faster.
        number = sympy.Rational(sympy.sympify(value).xreplace(self.defaults))
        exact = Fraction(int(number.p), int(number.q))
        return exact.numerator if exact.denominator == 1 else float(exact)

    # Diagnoses: each returns a sentence when it explains the difference exactly, else None.

    def diagnose(self, claim: Claim, computed, claimed, difference) -> str:
        found = []
        if claim.terms is not None:
            terms = self._at(claim, _symbolic(claim.terms, self.syms))
            if sympy.expand(terms - claimed) != 0:
                found.append(f"arithmetic slip: the source's own terms add up to {format_closed_form(terms)}, "
                             f"not the stated {format_closed_form(claimed)}")
            if sympy.expand(terms - computed) != 0:
                found.append(f"the source's terms differ from the layers by "
                             f"{format_closed_form(sympy.expand(terms - computed))}")
        specific = []
        for check in (self._folded_constant, self._missing_factor, self._digit_slip, self._kernel_size,
                      self._layer_count, self._blocks_left_out):
            sentence = check(claim, computed, claimed, difference)
            if sentence:
                specific.append(sentence)
        if not specific:
            sentence = self._rounding(claim, computed, claimed, difference)
            if sentence:
                specific.append(sentence)
        parts = self._parts(claim, computed, claimed, difference)
        if parts:
            specific.append(parts)
        found += specific
        if not found:
            found.append(self._fallback(computed, claimed))
        return "; ".join(found)

    def _split_constant(self, value):
        spatial = [self.syms[n] for n in ("h", "w") if n in self.syms]
        constant = value.xreplace({s: 0 for s in spatial})
        return sympy.expand(constant), sympy.expand(value - constant)

    def _folded_constant(self, claim, computed, claimed, difference):
        h, w = self.syms["h"], self.syms["w"]
        constant, _ = self._split_constant(computed)
        if constant == 0:
            return None
        if sympy.expand(claimed - (computed - constant + constant * h * w)) == 0:
            return (f"a constant term folded into h·w: {format_closed_form(constant)} does not depend on "
                    f"h and w, but was added to the coefficient of h·w")
        return None

    def _rounding(self, claim, computed, claimed, difference):
        gens = [self.syms[n] for n in ("h", "w") if n in self.syms]
        try:
            stated = sympy.Poly(claimed, *gens).as_dict()
            exact = sympy.Poly(computed, *gens).as_dict()
        except sympy.PolynomialError:
            return None
        if set(stated) != set(exact):
            return None
        rounded = False
        for monomial, value in exact.items():
            stated_value = stated[monomial]
            if not (stated_value.is_number and value.is_number):
                return None
            if stated_value == value:
                continue
            if abs(float(stated_value - value)) > 0.5 or not stated_value.is_integer:
                return None
            rounded = True
        return "rounding: the stated coefficients are the computed ones rounded to whole numbers" if rounded else None

    def _kernel_size(self, claim, computed, claimed, difference):
        if self.network.conventions.get("bias_params", 0) or self.network.conventions.get("bias_ops", 0):
            return None
        column = COLUMN[claim.kind]
        convolutions = [name for name in self._scope(claim)
                        if self.by_name[name][0].op.name in ("conv2d", "conv_transpose2d")
                        and self.by_name[name][1][column] != 0]
        # Over many layers some other kernel would fit the difference by coincidence.
        if len(convolutions) > MAX_KERNEL_CANDIDATES:
            return None
        for name in convolutions:
            layer, form = self.by_name[name]
            k_h, k_w = int(layer.hyper["k_h"]), int(layer.hyper["k_w"])
            value = form[column]
            if value == 0:
                continue
            # The figure's share of this layer, per kernel element.
            # cancel reduces a ratio of polynomials to a number when it is one, as simplify does, but faster.
            elements = sympy.cancel((claimed - (computed - value)) / (value / (k_h * k_w)))
            if not elements.is_Integer or elements <= 0 or elements == k_h * k_w:
                continue
            root = sympy.sqrt(elements)
            if root.is_Integer and root <= MAX_KERNEL:
                shape = f"a {root} × {root} kernel"
            elif elements in (k_h, k_w):
                shape = f"{elements} kernel elements (one side of the kernel)"
            else:
                continue
            other = "parameter count" if claim.kind == "macs" else "cost"
            return (f"kernel size: the figure charges layer {layer.name!r} with {shape}, "
                    f"but the layer is {k_h} × {k_w} (as its {other} has it)")
        return None

    def _missing_factor(self, claim, computed, claimed, difference):
        h, w = self.syms["h"], self.syms["w"]
        if claimed != 0 and sympy.expand(claimed * h * w - computed) == 0:
            return "a dropped factor: the figure leaves out h·w"
        return None

    def _digit_slip(self, claim, computed, claimed, difference):
        if not (claimed.is_Integer and computed.is_Integer):
            return None
        stated, exact = str(int(claimed)), str(int(computed))
        if _edit_distance(stated, exact) == 1:
            return f"a digit slip: {stated} for {exact}"
        return None

    def _scope(self, claim: Claim) -> list[str]:
        return list(claim.layers) if claim.layers is not None else list(self.by_name)

    def _layer_count(self, claim, computed, claimed, difference):
        column = COLUMN[claim.kind]
        inside = self._scope(claim)
        for name in inside:
            value = self.by_name[name][1][column]
            if value == 0:
                continue
            if sympy.expand(difference + value) == 0:
                return f"leaves out layer {name!r} ({format_closed_form(value)})"
            if sympy.expand(difference - value) == 0:
                return f"counts layer {name!r} ({format_closed_form(value)}) twice"
        outside = [name for name in self.by_name if name not in set(inside)]
        for name in outside:
            value = self.by_name[name][1][column]
            if value != 0 and sympy.expand(difference - value) == 0:
                return f"includes layer {name!r} ({format_closed_form(value)}), which the figure does not cover"
        return None

    def _blocks_left_out(self, claim, computed, claimed, difference):
        """Find block labels whose layers, left out or counted twice, explain the difference."""
        column = COLUMN[claim.kind]
        groups: dict[str, object] = {}
        for name in self._scope(claim):
            layer, form = self.by_name[name]
            if layer.block and form[column] != 0:
                groups[layer.block] = groups.get(layer.block, 0) + form[column]
        labels = list(groups)
        if not 2 <= len(labels) <= MAX_SUBSET_BLOCKS:
            return None
        points = [self._point(1), self._point(2)]
        target = [float(difference.xreplace(p)) for p in points]
        values = {label: [float(groups[label].xreplace(p)) for p in points] for label in labels}
        for size in range(2, len(labels)):
            found = []
            for subset in itertools.combinations(labels, size):
                sums = [sum(values[label][i] for label in subset) for i in range(len(points))]
                for sign, verb in ((-1, "leaves out"), (1, "counts twice")):
                    if all(math.isclose(sign * s, t, rel_tol=1e-12, abs_tol=1e-9) for s, t in zip(sums, target)):
                        exact = sympy.expand(sum(groups[label] for label in subset))
                        if sympy.expand(sign * exact - difference) == 0:
                            found.append(f"{verb} the layers of {', '.join(subset)} ({format_closed_form(exact)})")
            if len(found) == 1:
                return found[0]
            if found:
                return f"{found[0]}, or another of {len(found)} sets of blocks that add up to the same"
        return None

    def _point(self, index: int) -> dict:
        """Return input values for a numeric search: the defaults, then a scaled variant."""
        return {symbol: value * (1 + index * sympy.Rational(3, 7)) for symbol, value in self.defaults.items()}

    def _parts(self, claim, computed, claimed, difference):
        parts = self._covering_claims(claim)
        if not parts:
            return None
        stated = sympy.expand(sum((self.claimed(part) for part in parts), start=sympy.Integer(0)))
        names = _shorten([part.name for part in parts])
        if self.uncovered:
            if sympy.expand(stated - claimed) == 0:
                return (f"the total sums only the stated parts ({names}), which leave out "
                        f"{_list_layers(self.uncovered)}")
            return None
        if sympy.expand(stated - claimed) != 0:
            return (f"the total is not the sum of its parts: the stated parts ({names}) add up to "
                    f"{format_closed_form(stated)}, not {format_closed_form(claimed)}")
        wrong = [part.name for part in parts if sympy.expand(self.claimed(part) - self.computed(part)) != 0]
        if wrong:
            return f"the sum of the stated parts carries their errors ({_shorten(wrong)})"
        return None

    def _covering_claims(self, claim: Claim) -> list[Claim]:
        """Return other claims of the same kind whose layers partition this claim's layers."""
        scope = set(claim.layers if claim.layers is not None else self.by_name)
        candidates = [other for other in self.network.claims
                      if other is not claim and other.kind == claim.kind and other.layers is not None
                      and other.per_pass == claim.per_pass and other.at == claim.at
                      and set(other.layers) < scope]
        candidates.sort(key=lambda other: -len(other.layers))
        chosen, covered = [], set()
        for other in candidates:
            layers = set(other.layers)
            if layers & covered:
                continue
            chosen.append(other)
            covered |= layers
        column = COLUMN[claim.kind]
        uncovered = [name for name in scope - covered if self.by_name[name][1][column] != 0]
        self.uncovered = sorted(uncovered, key=list(self.by_name).index)
        return chosen

    def _fallback(self, computed, claimed) -> str:
        return (f"unexplained: the stated {format_closed_form(claimed)} differs from the layers' "
                f"{format_closed_form(computed)}")


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _shorten(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _list_layers(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"layer{'s' if len(names) > 1 else ''} {shown}{more}"


def reconcile(network: Network) -> list[Result]:
    """Return the reconciliation of every claim of a network, computed once per network."""
    return list(memoized(network, "reconciliation", lambda network: _Reconciler(network).results()))


def reconcile_all(networks: Sequence[Network]) -> list[Result]:
    """Return the reconciliation of every claim of every network, in order."""
    return [result for network in networks for result in reconcile(network)]
