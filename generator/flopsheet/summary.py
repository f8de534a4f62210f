"""A network's values as plain data: per-layer rows, totals and closed forms, for show, CSV and JSON."""

from __future__ import annotations

from fractions import Fraction
from typing import Mapping

from .closed_form import format_closed_form
from .compute import evaluate, polynomial_forms, total
from .network import Network


def plain(value: Fraction | None):
    """Return an int when whole, a float otherwise, None for no value."""
    if value is None:
        return None
    value = Fraction(value)
    return value.numerator if value.denominator == 1 else float(value)


def layer_table(network: Network, overrides: Mapping[str, Fraction] | None = None) -> dict:
    """Return the model, its inputs, a row per layer, the totals and the closed-form totals."""
    inputs = network.input_defaults()
    inputs.update(overrides or {})
    rows = evaluate(network, inputs)
    forms = polynomial_forms(network)
    layers = []
    for layer, row, form in zip(network.layers, rows, forms):
        layers.append({
            "layer": layer.name, "block": layer.block, "op": layer.label,
            "from": list(layer.inputs),
            "c_in": plain(row["C_in"]), "h_in": plain(row["H_in"]), "w_in": plain(row["W_in"]),
            "c_out": plain(row["C_out"]), "h_out": plain(row["H_out"]), "w_out": plain(row["W_out"]),
            "macs": plain(row["MACs"]), "params": plain(row["Params"]),
            "macs_closed_form": format_closed_form(form["MACs"]),
            "params_closed_form": format_closed_form(form["Params"]),
        })
    return {
        "model": network.name,
        "title": network.title,
        "inputs": {name: plain(value) for name, value in inputs.items()},
        "layers": layers,
        "totals": {"macs": plain(total(rows, "MACs")), "params": plain(total(rows, "Params")),
                   "flops": plain(total(rows, "MACs") * network.conventions["flops_per_mac"])},
        "conventions": {"preset": network.preset or "notes",
                        "values": {name: plain(value) for name, value in network.conventions.items()}},
        "closed_forms": {"macs": format_closed_form(total(forms, "MACs")),
                         "params": format_closed_form(total(forms, "Params"))},
    }
