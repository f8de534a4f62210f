"""Reports: Markdown and a Typst-compiled PDF from Jinja templates, with a bar chart of MACs."""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import jinja2

from .report_data import ModelReport

# Typst's PDF and matplotlib's PNG carry a date and a version; fixing them makes outputs reproducible.
PDF_TIMESTAMP = 946684800  # 2000-01-01T00:00:00Z
log = logging.getLogger(__name__)


def templates_folder() -> Path:
    """Return the folder of the Jinja templates: inside the installed package, else the source tree's."""
    packaged = Path(__file__).parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


# CommonMark lets a backslash escape any ASCII punctuation. '@' and '&' also start mentions and entities.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|$~@&])")


def escape_markdown(text: str) -> str:
    """Escape Markdown markup so spec text shows as written."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def typst_string(text: str) -> str:
    """Return a Typst string literal holding ``text`` exactly."""
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")
    return f'"{escaped}"'


def typst_text(text: str) -> str:
    """Return Typst markup that shows ``text`` literally: a string literal, so no markup in it runs."""
    return "#" + typst_string(text)


def environment() -> jinja2.Environment:
    """Return the Jinja environment: strict about undefined values, with the escaping filters."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_folder())),
                             undefined=jinja2.StrictUndefined, autoescape=False,
                             keep_trailing_newline=True)
    env.filters["md"] = escape_markdown
    env.filters["typst"] = typst_text
    env.filters["typst_string"] = typst_string
    return env


_MISSING_GLYPH = re.compile(r"Glyph (\d+) .*missing from font")


@contextlib.contextmanager
def chart_text(label: str):
    """Draw spec text in charts as written, and log the glyphs the font lacks once.

    matplotlib (3.11) reads text between two '$' as TeX math and raises ValueError on
    bad math such as '$\\frac$', so math parsing is off. It also warns about every glyph
    its default font DejaVu Sans lacks (Chinese names), and one logged line replaces those.
    """
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    missing, others = set(), set()
    for warning in caught:
        match = _MISSING_GLYPH.search(str(warning.message))
        if match:
            missing.add(chr(int(match.group(1))))
        else:
            others.add(str(warning.message))
    if missing:
        log.warning("%s: warning: the chart font has no glyph for %s, which show as empty boxes",
                    label, " ".join(sorted(missing)))
    for message in sorted(others):
        log.warning("%s: warning: %s", label, message)


def write_chart(labels: Sequence[str], gmacs: Sequence[float], path: Path, title: str) -> None:
    """Draw a horizontal bar chart of GMACs as a PNG without volatile metadata."""
    with chart_text(path.name):
        _draw_chart(labels, gmacs, path, title)


def _draw_chart(labels: Sequence[str], gmacs: Sequence[float], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    height = max(2.5, 0.28 * len(labels) + 1.2)
    figure = Figure(figsize=(7, height), dpi=110)
    axes = figure.add_subplot()
    positions = range(len(labels))
    axes.barh(list(positions), list(gmacs), color="#4472C4")
    axes.set_yticks(list(positions), [str(label) for label in labels], fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("GMACs at the default inputs")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})


def compile_pdf(source: str, folder: Path) -> bytes:
    """Compile Typst source whose images lie in ``folder``; use only the fonts typst ships."""
    # NOTE: typst's own fonts have no CJK glyphs, so Chinese or Japanese text shows as empty
    # boxes in the PDF (the Markdown and the workbook keep it). System fonts would make the
    # PDF depend on the machine that built it.
    import typst

    main = folder / "report.typ"
    main.write_text(source, encoding="utf-8")
    return typst.compile(str(main), root=str(folder), ignore_system_fonts=True,
                         timestamp=PDF_TIMESTAMP)


def write_model_report(report: ModelReport, folder: Path) -> list[Path]:
    """Write ``NAME.md``, ``NAME.png`` and ``NAME.pdf`` for one model into ``folder``."""
    env = environment()
    chart = folder / f"{report.name}.png"
    what = "block" if report.blocks else "layer"
    title = f"{report.title}: MACs by {what}" + (f" ({report.chart_note})" if report.chart_note else "")
    write_chart(report.chart_labels, report.chart_gmacs, chart, title)
    markdown = env.get_template("report.md.j2").render(m=report, chart=chart.name)
    md_path = folder / f"{report.name}.md"
    md_path.write_text(markdown, encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch:
        scratch_path = Path(scratch)
        (scratch_path / "chart.png").write_bytes(chart.read_bytes())
        source = env.get_template("report.typ.j2").render(m=report, chart="chart.png")
        pdf = compile_pdf(source, scratch_path)
    pdf_path = folder / f"{report.name}.pdf"
    pdf_path.write_bytes(pdf)
    return [md_path, chart, pdf_path]
