"""The data a report shows, finished in Python: formatted numbers and complete sentences for the templates."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from . import conventions
from .closed_form import format_closed_form
from .compute import blocks, evaluate, polynomial_forms, total
from .network import Network

# The PDF lists at most this many layers: Typst needs about 0.15 MB of memory per table row
# (10,000 rows took 300 pages and 1.6 GB), and the workbook and the Markdown list all layers.
PDF_MAX_LAYERS = 200
# The chart shows at most this many bars, the ones with the most MACs, so it fits on a page.
MAX_CHART_BARS = 30


def count(value) -> str:
    """Format a count with thousands separators, keeping up to three decimals when not whole."""
    value = Fraction(value)
    if value.denominator == 1:
        return f"{value.numerator:,}"
    return f"{float(value):,.3f}"


def scaled(value, unit: int) -> str:
    """Format ``value / unit`` with three decimals (GMACs, millions of parameters)."""
    return f"{float(Fraction(value) / unit):,.3f}"


@dataclass(frozen=True)
class Row:
    """One row of a report table: a label and its formatted values."""

    label: str
    op: str
    output: str
    macs: str
    params: str
    macs_form: str
    params_form: str
    gmacs: float


@dataclass(frozen=True)
class ModelReport:
    """Everything one model's report shows."""

    name: str
    title: str
    source: str
    description: str
    shape_mode: str
    inputs: list[tuple[str, str, str]]
    conventions: list[tuple[str, str, str]]
    macs: str
    gmacs: str
    params: str
    mparams: str
    macs_form: str
    params_form: str
    blocks: list[Row]
    layers: list[Row]
    chart_labels: list[str]
    chart_gmacs: list[float]
    claims: int = 0
    mismatches: list = ()
    conventions_note: str = ""
    # The layers the PDF lists (the first PDF_MAX_LAYERS), and a sentence saying so when it omits some.
    pdf_layers: list[Row] = ()
    pdf_layers_note: str = ""
    # Why the chart shows fewer bars than there are blocks (or layers), or "".
    chart_note: str = ""


def model_report(network: Network) -> ModelReport:
    """Compute a network at its defaults and format what its report shows."""
    values = evaluate(network)
    forms = polynomial_forms(network)
    layer_rows = _layer_rows(network, values, forms)
    block_rows = []
    for run in blocks(network):
        span = range(run.first, run.last + 1)
        macs = sum(values[i]["MACs"] for i in span)
        params = sum(values[i]["Params"] for i in span)
        block_rows.append(Row(run.label, "", _shape(values[run.last]), count(macs), count(params),
                              format_closed_form(sum(forms[i]["MACs"] for i in span)),
                              format_closed_form(sum(forms[i]["Params"] for i in span)),
                              float(macs) / 1e9))
    chart_source = block_rows if block_rows else [r for r in layer_rows if r.gmacs > 0]
    chart_source, chart_note = _chart_rows(chart_source, "blocks" if block_rows else "layers")
    pdf_layers_note = ""
    if len(layer_rows) > PDF_MAX_LAYERS:
        pdf_layers_note = (f"This table lists the first {PDF_MAX_LAYERS:,} of the {len(layer_rows):,} layers. "
                           "The workbook and the Markdown report list all of them.")
    from .reconcile import reconcile
    results = reconcile(network)
    mismatches = [r for r in results if r.status == "mismatch"]
    macs_total = total(values, "MACs")
    params_total = total(values, "Params")
    return ModelReport(
        name=network.name, title=network.title, source=network.source,
        description=network.description, shape_mode=_mode_sentence(network.shape_mode),
        inputs=[(p.name, count(p.default), p.description) for p in network.inputs],
        conventions=[(c.name, count(network.conventions[c.name]), c.description)
                     for c in conventions.CONVENTIONS],
        macs=count(macs_total), gmacs=scaled(macs_total, 10**9),
        params=count(params_total), mparams=scaled(params_total, 10**6),
        macs_form=format_closed_form(total(forms, "MACs")),
        params_form=format_closed_form(total(forms, "Params")),
        blocks=block_rows, layers=layer_rows,
        chart_labels=[r.label for r in chart_source],
        chart_gmacs=[r.gmacs for r in chart_source],
        claims=len(results), mismatches=mismatches,
        conventions_note=_conventions_note(network, macs_total),
        pdf_layers=layer_rows[:PDF_MAX_LAYERS], pdf_layers_note=pdf_layers_note, chart_note=chart_note,
    )


def _layer_rows(network: Network, values, forms) -> list[Row]:
    # Layers with equal values share one row object, so each distinct row is formatted once.
    formatted: dict[tuple[int, int], tuple] = {}
    rows = []
    for layer, value, form in zip(network.layers, values, forms):
        texts = formatted.get((id(value), id(form)))
        if texts is None:
            texts = formatted[(id(value), id(form))] = (
                _shape(value), count(value["MACs"]), count(value["Params"]),
                format_closed_form(form["MACs"]), format_closed_form(form["Params"]),
                float(value["MACs"]) / 1e9)
        rows.append(Row(layer.name, layer.label, *texts))
    return rows


def _chart_rows(rows: list[Row], kind: str) -> tuple[list[Row], str]:
    """Return the MAX_CHART_BARS rows with the most MACs in their order, and a note when rows are left out."""
    if len(rows) <= MAX_CHART_BARS:
        return rows, ""
    largest = sorted(range(len(rows)), key=lambda i: -rows[i].gmacs)[:MAX_CHART_BARS]
    note = f"the {MAX_CHART_BARS} of {len(rows):,} {kind} with the most MACs"
    return [rows[i] for i in sorted(largest)], note


def _conventions_note(network: Network, macs_total) -> str:
    from .presets import PRESETS
    preset = PRESETS[network.preset or "notes"]
    per_mac = network.conventions["flops_per_mac"]
    flops = Fraction(macs_total) * per_mac
    return (f"The values start from the preset {preset.name} ({preset.tool}). "
            f"The FLOPs total, the MACs times flops_per_mac = {count(per_mac)}, is {count(flops)} "
            f"({scaled(flops, 10**9)} G).")


def _shape(value) -> str:
    return f"{count(value['C_out'])} × {count(value['H_out'])} × {count(value['W_out'])}"


def _mode_sentence(mode: str) -> str:
    if mode == "ideal":
        return ("Sizes are idealised: each stride divides the map evenly, so sizes such as h/32 "
                "stay linear in h and w.")
    return "Sizes use floor arithmetic, as frameworks compute them."
