"""The comparison across specs: a survey's complexity table as a live workbook, Markdown and PDF.

Each model's MACs and parameters are written as its closed form in the
comparison's own ``h``, ``w`` and ``b``. Parameters a model declares (such as
MDF's ``n`` and ``k``) take that model's defaults.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import sympy
import xlsxwriter

from . import __version__
from .closed_form import format_closed_form
from .compute import polynomial_forms, symbols, total
from .network import Network
from .polynomial import Polynomial, as_sympy, as_sympy_number, is_number
from .report import chart_text, compile_pdf, environment
from .report_data import count, scaled
from .sympy_excel import to_excel
from .workbook import CREATED, cached

SIDES = tuple(range(128, 1025, 32))
SHARED_INPUTS = ("h", "w", "b")


@dataclass(frozen=True)
class Entry:
    """One model's closed forms and values for the comparison."""

    name: str
    title: str
    macs_form: object
    params_form: object
    default_inputs: dict
    symbols: dict
    macs_224: Fraction
    macs_default: Fraction
    params_default: Fraction
    # The same closed forms as Polynomials (or numbers), which evaluate without sympy; None when
    # a form is not a polynomial.
    macs_polynomial: object = None
    params_polynomial: object = None

    def at(self, form, h, w, b=1) -> Fraction:
        """Return a closed form's exact value at the given input size."""
        polynomial = None
        if form is self.macs_form:
            polynomial = self.macs_polynomial
        elif form is self.params_form:
            polynomial = self.params_polynomial
        if polynomial is not None:
            if not isinstance(polynomial, Polynomial):
                return Fraction(polynomial)
            return Fraction(polynomial.at({**self.default_inputs, "h": h, "w": w, "b": b}))
        values = {self.symbols["h"]: h, self.symbols["w"]: w, self.symbols["b"]: b}
        number = sympy.Rational(form.subs(values))
        return Fraction(int(number.p), int(number.q))

    def macs_at_side(self, side: int) -> float:
        """Return the MACs at h = w = ``side`` and b = 1."""
        coefficients = self._side_coefficients
        if coefficients is None:
            return float(self.at(self.macs_form, side, side))
        return float(sum(coefficient * side ** degree for degree, coefficient in coefficients))

    @functools.cached_property
    def _side_coefficients(self) -> list[tuple[int, object]] | None:
        """Return the MACs at h = w and b = 1 as (power of the side, coefficient) pairs, or None."""
        polynomial = self.macs_polynomial
        if polynomial is None:
            return None
        if not isinstance(polynomial, Polynomial):
            return [(0, polynomial)]
        values = {**self.default_inputs, "b": 1}
        collected: dict[int, object] = {}
        for monomial, coefficient in polynomial.terms.items():
            degree, term = 0, coefficient
            for name, exponent in zip(polynomial.names, monomial):
                if name in ("h", "w"):
                    degree += exponent
                elif exponent:
                    term = term * values[name] ** exponent
            collected[degree] = collected.get(degree, 0) + term
        return sorted(collected.items())


def entries(networks: Sequence[Network]) -> list[Entry]:
    """Return each network's closed-form totals with declared parameters at their defaults."""
    found = []
    for network in networks:
        syms = symbols(network)
        forms = polynomial_forms(network)
        declared = {p.name: p.default for p in network.inputs if p.name not in SHARED_INPUTS}
        totals = []
        for column in ("MACs", "Params"):
            value = total(forms, column)
            if isinstance(value, Polynomial):
                value = value.substitute(declared)
            elif not is_number(value):
                value = sympy.expand(value.subs({syms[name]: as_sympy_number(v) for name, v in declared.items()}))
            totals.append(value)
        macs, params = (as_sympy(value, syms) for value in totals)
        defaults = network.input_defaults()
        polynomials = [None if isinstance(value, sympy.Basic) else value for value in totals]
        entry = Entry(network.name, network.title, macs, params, defaults, syms, 0, 0, 0, *polynomials)
        own = (defaults["h"], defaults["w"], defaults["b"])
        found.append(dataclasses.replace(entry, macs_224=entry.at(macs, 224, 224),
                                         macs_default=entry.at(macs, *own),
                                         params_default=entry.at(params, *own)))
    return found


def write_comparison(networks: Sequence[Network], folder: Path, reports: bool = True) -> list[Path]:
    """Write ``comparison.xlsx`` (and ``.md``, ``.png``, ``.pdf``) into ``folder``."""
    items = entries(networks)
    paths = [_write_workbook(items, folder / "comparison.xlsx")]
    if reports:
        paths += _write_reports(items, folder)
    return paths


def _write_workbook(items: list[Entry], path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False})
    book.set_properties({"title": "Model comparison", "created": CREATED,
                         "comments": f"Written by flopsheet {__version__}"})
    header = book.add_format({"bold": True, "bottom": 1, "bg_color": "#D9E1F2", "text_wrap": True})
    editable = book.add_format({"bg_color": "#FFF2CC", "border": 1, "border_color": "#BFBFBF"})
    number = book.add_format({"num_format": "#,##0"})
    decimal = book.add_format({"num_format": "#,##0.000"})

    inputs = book.add_worksheet("Inputs")
    inputs.write_row(0, 0, ("Name", "Value", "Description"), header)
    defaults = {"h": 224, "w": 224, "b": 1}
    descriptions = {"h": "Input height for every model", "w": "Input width for every model",
                    "b": "Batch size for every model"}
    for row, name in enumerate(SHARED_INPUTS, start=1):
        inputs.write_string(row, 0, name)
        inputs.write_number(row, 1, defaults[name], editable)
        inputs.write_string(row, 2, descriptions[name])
        inputs.data_validation(row, 1, row, 1, {"validate": "decimal", "criteria": ">", "value": 0})
        book.define_name(name, f"=Inputs!$B${row + 1}")
    inputs.set_column(2, 2, 50)

    sheet = book.add_worksheet("Comparison")
    columns = ("Model", "Title", "MACs", "Params", "GMACs", "Params (M)",
               "MACs at its default input", "Default input", "MACs closed form", "Params closed form")
    sheet.write_row(0, 0, columns, header)
    names = {"h": "h", "w": "w", "b": "b"}
    for row, item in enumerate(items, start=1):
        sheet.write_string(row, 0, item.name)
        sheet.write_string(row, 1, item.title)
        sheet.write_formula(row, 2, "=" + to_excel(item.macs_form, names), number, cached(item.macs_224))
        params_224 = item.at(item.params_form, 224, 224)
        sheet.write_formula(row, 3, "=" + to_excel(item.params_form, names), number, cached(params_224))
        sheet.write_formula(row, 4, f"=C{row + 1}/10^9", decimal, float(item.macs_224) / 1e9)
        sheet.write_formula(row, 5, f"=D{row + 1}/10^6", decimal, float(params_224) / 1e6)
        sheet.write_number(row, 6, cached(item.macs_default), number)
        sheet.write_string(row, 7, _default_input(item))
        sheet.write_string(row, 8, format_closed_form(item.macs_form))
        sheet.write_string(row, 9, format_closed_form(item.params_form))
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, 1, 40)
    sheet.set_column(2, 7, 16)
    sheet.set_column(8, 9, 40)
    last = len(items)
    for column, title, anchor in ((4, "GMACs at the input size of the Inputs sheet", "B" + str(last + 4)),
                                  (5, "Parameters (millions)", "H" + str(last + 4))):
        chart = book.add_chart({"type": "bar"})
        chart.add_series({"name": columns[column], "categories": ["Comparison", 1, 0, last, 0],
                          "values": ["Comparison", 1, column, last, column]})
        chart.set_title({"name": title})
        chart.set_legend({"none": True})
        chart.set_y_axis({"reverse": True})
        sheet.insert_chart(anchor, chart)

    sweep = book.add_worksheet("Side sweep")
    sweep.write_string(0, 0, "side", header)
    for col, item in enumerate(items, start=1):
        sweep.write_string(0, col, item.name, header)
    for row, side in enumerate(SIDES, start=1):
        sweep.write_number(row, 0, side)
        for col, item in enumerate(items, start=1):
            cell = f"$A{row + 1}"
            formula = "=" + to_excel(item.macs_form, {"h": cell, "w": cell, "b": "b"}) + "/10^9"
            sweep.write_formula(row, col, formula, decimal, item.macs_at_side(side) / 1e9)
    chart = book.add_chart({"type": "scatter", "subtype": "straight"})
    for col, item in enumerate(items, start=1):
        # The name refers to the header cell: XlsxWriter reads a name string that starts with '=' as a formula.
        chart.add_series({"name": ["Side sweep", 0, col], "categories": ["Side sweep", 1, 0, len(SIDES), 0],
                          "values": ["Side sweep", 1, col, len(SIDES), col]})
    chart.set_title({"name": "GMACs against input side length (h = w)"})
    chart.set_x_axis({"name": "side length (pixels)", "min": SIDES[0], "max": SIDES[-1]})
    chart.set_y_axis({"name": "GMACs", "log_base": 10})
    chart.set_size({"width": 800, "height": 480})
    sweep.insert_chart(1, len(items) + 2, chart)
    book.close()
    return path


def _default_input(item: Entry) -> str:
    inputs = item.default_inputs
    text = f"{count(inputs['h'])} × {count(inputs['w'])}"
    others = [f"{k} = {count(v)}" for k, v in inputs.items() if k not in ("h", "w")]
    return text + (", " + ", ".join(others) if others else "")


def _write_charts(items: list[Entry], folder: Path) -> tuple[Path, Path]:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    bars = folder / "comparison.png"
    figure = Figure(figsize=(8, max(3, 0.35 * len(items) + 1.5)), dpi=110)
    left, right = figure.subplots(1, 2)
    labels = [item.name for item in items]
    left.barh(labels, [float(item.macs_224) / 1e9 for item in items], color="#4472C4")
    left.set_xlabel("GMACs at 224 × 224")
    right.barh(labels, [float(item.params_default) / 1e6 for item in items], color="#ED7D31")
    right.set_xlabel("parameters (millions)")
    right.set_yticks([])
    for axes in (left, right):
        axes.invert_yaxis()
    figure.tight_layout()
    figure.savefig(bars, format="png", metadata={"Software": None})

    lines = folder / "comparison-sweep.png"
    figure = Figure(figsize=(8, 4.5), dpi=110)
    axes = figure.add_subplot()
    for item in items:
        axes.plot(SIDES, [item.macs_at_side(side) / 1e9 for side in SIDES], label=item.name)
    axes.set_xlabel("input side length h = w (pixels)")
    axes.set_ylabel("GMACs")
    axes.set_yscale("log")
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(lines, format="png", metadata={"Software": None})
    return bars, lines


def _rows(items: list[Entry]) -> list[dict]:
    return [{"name": item.name, "title": item.title,
             "macs_224": count(item.macs_224), "gmacs_224": scaled(item.macs_224, 10**9),
             "macs_default": count(item.macs_default), "default_input": _default_input(item),
             "params": count(item.params_default), "mparams": scaled(item.params_default, 10**6),
             "macs_form": format_closed_form(item.macs_form),
             "params_form": format_closed_form(item.params_form)} for item in items]


def _write_reports(items: list[Entry], folder: Path) -> list[Path]:
    env = environment()
    with chart_text("comparison charts"):
        bars, lines = _write_charts(items, folder)
    rows = _rows(items)
    markdown = env.get_template("comparison.md.j2").render(rows=rows, bars=bars.name, sweep=lines.name)
    md_path = folder / "comparison.md"
    md_path.write_text(markdown, encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch:
        scratch_path = Path(scratch)
        (scratch_path / "bars.png").write_bytes(bars.read_bytes())
        (scratch_path / "sweep.png").write_bytes(lines.read_bytes())
        source = env.get_template("comparison.typ.j2").render(rows=rows, bars="bars.png", sweep="sweep.png")
        pdf = compile_pdf(source, scratch_path)
    pdf_path = folder / "comparison.pdf"
    pdf_path.write_bytes(pdf)
    return [md_path, bars, lines, pdf_path]
