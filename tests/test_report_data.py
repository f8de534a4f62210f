"""Reports of deep networks: the PDF's layer table and the chart are capped, each with a note."""

from __future__ import annotations

import sys

from flopsheet.load import load_network
from flopsheet.report import environment
from flopsheet.report_data import MAX_CHART_BARS, PDF_MAX_LAYERS, model_report

from support import REPO, SPECS

sys.path.insert(0, str(REPO / "bench"))
import synthetic  # noqa: E402

LAYERS = PDF_MAX_LAYERS + 100
# A spec of single convolutions without blocks, so the chart shows layers.
FLAT = "\n".join(
    ["model: {name: flat}", "layers:", "  - {name: data, op: input, channels: 3}"]
    + [f"  - {{name: conv{i}, op: conv2d, out_channels: {8 + i % 50}, kernel: 3, padding: 1}}"
       for i in range(MAX_CHART_BARS + 20)]) + "\n"


def test_pdf_lists_first_layers_with_note(tmp_path):
    report = model_report(load_network(synthetic.write_spec(tmp_path, LAYERS)))
    assert len(report.layers) == LAYERS
    assert report.pdf_layers == report.layers[:PDF_MAX_LAYERS]
    assert report.pdf_layers_note == (f"This table lists the first {PDF_MAX_LAYERS} of the {LAYERS} layers. "
                                      "The workbook and the Markdown report list all of them.")


def test_typst_source_has_note_and_capped_table(tmp_path):
    report = model_report(load_network(synthetic.write_spec(tmp_path, LAYERS)))
    source = environment().get_template("report.typ.j2").render(m=report, chart="chart.png")
    assert "This table lists the first" in source
    names = [row.label for row in report.layers]
    assert f'[#"{names[PDF_MAX_LAYERS - 1]}"]' in source
    assert f'[#"{names[PDF_MAX_LAYERS]}"]' not in source


def test_markdown_lists_every_layer(tmp_path):
    report = model_report(load_network(synthetic.write_spec(tmp_path, LAYERS)))
    markdown = environment().get_template("report.md.j2").render(m=report, chart="chart.png")
    assert f"| {report.layers[-1].label} |" in markdown.replace("\\", "")


def test_chart_keeps_largest_layers_in_order(tmp_path):
    path = tmp_path / "flat.yaml"
    path.write_text(FLAT, encoding="utf-8")
    report = model_report(load_network(path))
    assert len(report.chart_labels) == MAX_CHART_BARS
    threshold = sorted((row.gmacs for row in report.layers), reverse=True)[MAX_CHART_BARS - 1]
    expected = [row.label for row in report.layers if row.gmacs >= threshold][:MAX_CHART_BARS]
    assert report.chart_labels == expected
    assert report.chart_note == f"the {MAX_CHART_BARS} of {MAX_CHART_BARS + 20} layers with the most MACs"


def test_bundled_specs_are_not_capped():
    for path in sorted(SPECS.glob("*.yaml")):
        report = model_report(load_network(path))
        assert report.pdf_layers == report.layers, path.name
        assert (report.pdf_layers_note, report.chart_note) == ("", ""), path.name
