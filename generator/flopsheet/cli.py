"""The command line: build, check, show, reconcile, verify and schema. Only this module talks to the user."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import sys
from fractions import Fraction
from pathlib import Path

import click

from . import expr
from .errors import FlopsheetError, Problem, SpecError
from .presets import PRESETS

EXIT_INVALID = 2
EXIT_INTERNAL = 1


def _spec_files(paths: tuple[str, ...]) -> list[Path]:
    """Expand files and folders into spec files, in a stable order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                raise SpecError([_problem(path, "no spec files (*.yaml or *.yml) in this folder: "
                                                "add specs or give another folder")])
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise SpecError([_problem(path, "file not found: check the path")])
    return files


def _problem(path, message) -> Problem:
    return Problem(str(path), message)


def _is_workbook(path: Path) -> bool:
    return path.suffix.lower() in (".xlsx", ".xlsm")


def _read_workbook(path: Path):
    """Read back a workbook flopsheet wrote, with the edits made in it; print its warnings."""
    from .readback import read_workbook
    edited = read_workbook(path)
    for warning in edited.warnings:
        click.echo(f"{warning.where}: warning: {warning.message}", err=True)
    return edited.network


def _load_all(paths: tuple[str, ...], preset: str | None = None):
    """Load every spec; with ``preset``, count each with that preset's conventions instead of its own."""
    from .load import load_network

    networks, problems = [], []
    for path in _spec_files(paths):
        try:
            network = _read_workbook(path) if _is_workbook(path) else load_network(path)
        except SpecError as error:
            problems.extend(error.problems)
            continue
        if preset is not None:
            from .presets import preset_values
            network = dataclasses.replace(network, conventions=preset_values(preset), preset=preset)
        networks.append(network)
    if problems:
        raise SpecError(problems)
    names: dict[str, Path] = {}
    for network in networks:
        key = network.name.lower()
        if key in names:
            # Sheet and file names ignore case in Excel and on Windows and macOS file systems.
            problems.append(_problem(_model_name_place(network), f"model name {network.name!r} is also "
                                     f"used by {names[key]}, and names must differ ignoring case: "
                                     "rename one of the models"))
        names[key] = network.path
    if problems:
        raise SpecError(problems)
    return networks


def _model_name_place(network) -> str:
    from . import yaml_lines
    from .errors import location
    return location(network.path, yaml_lines.line_of(yaml_lines.load(network.text), ("model", "name")))


def _run(action) -> None:
    """Run a command; turn errors into messages and exit codes, never a traceback."""
    try:
        action()
    except FlopsheetError as error:
        click.echo(f"error: {error}" if not isinstance(error, SpecError) else str(error), err=True)
        sys.exit(EXIT_INVALID)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the last line of defence against a traceback
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        click.echo(f"internal error: {type(error).__name__}: {error}\n"
                   "This is a bug in flopsheet; rerun with FLOPSHEET_DEBUG=1 for the traceback.", err=True)
        if __import__("os").environ.get("FLOPSHEET_DEBUG"):
            raise
        sys.exit(EXIT_INTERNAL)


CONVENTION_OPTION = click.option(
    "--convention", type=click.Choice(list(PRESETS)), default=None,
    help="Count with this tool's conventions (see docs/conventions.md), replacing the specs' own.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flopsheet")
def main() -> None:
    """Turn YAML layer specs into live-formula workbooks and reports of MACs and parameters."""
    _show_warnings()


class _StderrHandler(logging.Handler):
    """Print log records on the current stderr (click's, so test runners capture them)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def _show_warnings() -> None:
    """Print the library's warnings (numbers Excel rounds, glyphs a chart font lacks) on stderr."""
    logger = logging.getLogger("flopsheet")
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        logger.addHandler(_StderrHandler(logging.WARNING))
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=True),
              help="Folder for the workbooks and reports (created if missing).")
@click.option("--no-report", is_flag=True, help="Write the workbooks only, without Markdown and PDF reports.")
@CONVENTION_OPTION
def build(paths, output, no_report, convention) -> None:
    """Write a workbook and a report for each spec in PATHS (files or folders)."""
    def action():
        from .build import build_all
        networks = _load_all(paths, convention)
        written = build_all(networks, Path(output), reports=not no_report)
        for path in written:
            click.echo(f"wrote {path}")
    _run(action)


@main.command()
@click.argument("paths", nargs=-1, required=True)
def check(paths) -> None:
    """Validate the specs in PATHS without writing anything."""
    def action():
        networks = _load_all(paths)
        for network in networks:
            click.echo(f"ok {network.path} ({len(network.layers)} layers)")
    _run(action)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the spec format (for editors that complete and check YAML)."""
    from .spec import json_schema
    click.echo(json.dumps(json_schema(), indent=2))


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--fail-on-mismatch", is_flag=True, help="Exit with 1 when any claim does not match.")
@CONVENTION_OPTION
def reconcile(paths, output_format, fail_on_mismatch, convention) -> None:
    """Compare the figures the specs' sources state (claims) with what the specs compute."""
    def action():
        from .reconcile import reconcile_all
        results = reconcile_all(_load_all(paths, convention))
        if output_format == "json":
            click.echo(json.dumps([r.as_dict() for r in results], indent=2))
        else:
            click.echo(_reconciliation_table(results))
        if fail_on_mismatch and any(r.status == "mismatch" for r in results):
            sys.exit(EXIT_INTERNAL)
    _run(action)


def _reconciliation_table(results) -> str:
    if not results:
        return "no claims to reconcile: add a 'claims' list to the specs (see specs/README.md)"
    lines = []
    model = None
    for result in results:
        if result.model != model:
            model = result.model
            count = sum(1 for r in results if r.model == model)
            wrong = sum(1 for r in results if r.model == model and r.status == "mismatch")
            lines += ["" if lines else None, f"{model}: {count} claims, {wrong} mismatches"]
            lines = [line for line in lines if line is not None]
        mark = "ok " if result.status == "match" else "MISMATCH"
        lines.append(f"  {mark} {result.claim} ({result.kind}): stated {result.claimed}")
        if result.status == "mismatch":
            lines.append(f"      computed {result.computed}; difference {result.difference}"
                         f" ({_number(result.difference_at_defaults)} at the defaults)")
            lines.append(f"      {result.diagnosis}")
    return "\n".join(lines)


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4f}"


def _parse_settings(settings: tuple[str, ...], network) -> dict[str, Fraction]:
    values = {}
    known = {p.name for p in network.inputs}
    for setting in settings:
        name, sep, text = setting.partition("=")
        name = name.strip()
        if not sep or not name:
            raise SpecError([_problem("--set", f"{setting!r} is not NAME=VALUE: write, for example, --set h=320")])
        if name not in known:
            raise SpecError([_problem("--set", f"unknown input {name!r}: use one of {', '.join(sorted(known))}")])
        try:
            value = expr.evaluate_number(expr.parse(text), {})
        except expr.ExpressionError as error:
            raise SpecError([_problem("--set", f"{name}: {error}")]) from None
        if value <= 0:
            raise SpecError([_problem("--set", f"{name} must be positive (found {text})")])
        values[name] = value
    return values


@main.command()
@click.argument("spec")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="Set an input (h, w, b or a declared parameter); repeatable.")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@CONVENTION_OPTION
def show(spec, settings, output_format, convention) -> None:
    """Print every layer's shape, MACs and parameters, the totals and the closed forms.

    SPEC is a spec file or a workbook that flopsheet wrote, read with the edits made in it.
    """
    def action():
        from .summary import layer_table
        network = _load_all((spec,), convention)[0]
        values = _parse_settings(settings, network)
        table = layer_table(network, values)
        if output_format == "json":
            click.echo(json.dumps(table, indent=2))
        elif output_format == "csv":
            click.echo(_csv(table), nl=False)
        else:
            click.echo(_table(table))
    _run(action)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=True),
              help="Folder for the reports (created if missing).")
@CONVENTION_OPTION
def report(paths, output, convention) -> None:
    """Write the Markdown and PDF report of each spec or edited workbook in PATHS, without workbooks."""
    def action():
        from .build import build_reports
        for path in build_reports(_load_all(paths, convention), Path(output)):
            click.echo(f"wrote {path}")
    _run(action)


@main.command("export-spec")
@click.argument("workbook")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Spec file to write (YAML), or - for standard output.")
@click.option("--drop-typed-values", is_flag=True,
              help="Export even when formula cells were typed over with numbers: the spec computes them "
                   "by their rules again.")
def export_spec(workbook, output, drop_typed_values) -> None:
    """Write the spec of an edited WORKBOOK: its inputs, conventions and layer values become the spec's.

    The spec the workbook was built from keeps its comments and layout; only the values that
    differ change. Notes on how block definitions changed go to standard error.
    """
    def action():
        from .export_spec import export_spec as export, write_spec_file
        path = Path(workbook)
        if not _is_workbook(path):
            raise SpecError([_problem(path, "not a workbook (.xlsx): give a workbook that flopsheet build "
                                            "wrote")])
        from .readback import read_workbook
        edited = read_workbook(path)
        for warning in edited.warnings:
            click.echo(f"{warning.where}: warning: {warning.message}", err=True)
        exported = export(edited, drop_typed_values=drop_typed_values)
        for note in exported.notes:
            click.echo(f"{note.where}: note: {note.message}", err=True)
        if output == "-":
            click.echo(exported.text, nl=False)
        else:
            write_spec_file(exported.text, Path(output))
            click.echo(f"wrote {output}", err=True)
    _run(action)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--sizes", default=None, metavar="SIZES",
              help="Input sizes in pixels, comma-separated: 224 (square) or 320x480 (height x width). "
                   "Default: the spec's h x w, 224 and 320x480.")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(min=1),
              help="Batch size of the test input.")
@click.option("--meta", is_flag=True,
              help="Propagate shapes on PyTorch's meta device without computing values (fast for large inputs).")
def verify(paths, sizes, batch, meta) -> None:
    """Check the specs in PATHS against PyTorch: shapes, parameters and MACs of every layer.

    Builds a torch.nn.Module from each spec with random weights, runs it and compares
    every layer's output shape, its parameters and its MACs under the torch preset
    (FlopCounterMode). Exit status: 0 when all agree, 1 when something disagrees.
    Needs PyTorch: pip install 'flopsheet[torch]'.
    """
    def action():
        from .verify import import_torch, parse_sizes, summary, verify as verify_network
        import_torch()
        chosen = None
        if sizes is not None:
            try:
                chosen = parse_sizes(sizes)
            except ValueError as error:
                raise SpecError([_problem("--sizes", f"{error}: write, for example, --sizes 224,320x480")]) from None
        from .verify import default_sizes
        agree, unchecked = True, []
        for network in _load_all(paths):
            result = verify_network(network, chosen or default_sizes(network), batch=batch, meta=meta)
            for line in summary(result):
                click.echo(line)
            agree = agree and result.agrees
            if not result.compared:
                unchecked.append(_problem(network.path, "no input size could be compared: "
                                                        "choose sizes that fit the network with --sizes"))
        if not agree:
            sys.exit(EXIT_INTERNAL)
        if unchecked:
            raise SpecError(unchecked)
    _run(action)


def _csv(table: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = list(table["layers"][0])
    writer.writerow(columns)
    for row in table["layers"]:
        writer.writerow([_csv_safe(row[c]) for c in columns])
    writer.writerow(["total"] + [""] * (columns.index("macs") - 1) + [table["totals"]["macs"], table["totals"]["params"]])
    return out.getvalue()


def _csv_safe(value):
    # A spreadsheet runs a cell that starts with = + - @ as a formula, so such text gets a leading quote.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value


def _table(table: dict) -> str:
    inputs = ", ".join(f"{k} = {v}" for k, v in table["inputs"].items())
    lines = [f"{table['model']}  ({inputs})", ""]
    header = ("layer", "op", "output (C x H x W)", "MACs", "params")
    rows = [(r["layer"], r["op"], f"{r['c_out']} x {r['h_out']} x {r['w_out']}",
             f"{r['macs']:,}" if isinstance(r["macs"], int) else f"{r['macs']:,.3f}",
             f"{r['params']:,}" if isinstance(r["params"], int) else f"{r['params']:,.3f}")
            for r in table["layers"]]
    totals = table["totals"]
    rows.append(("total", "", "", f"{totals['macs']:,}" if isinstance(totals["macs"], int) else f"{totals['macs']:,.3f}",
                 f"{totals['params']:,}" if isinstance(totals["params"], int) else f"{totals['params']:,.3f}"))
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        lines.append("  ".join(str(cell).ljust(widths[i]) if i < 3 else str(cell).rjust(widths[i])
                               for i, cell in enumerate(row)))
    lines += ["", f"MACs:   {table['closed_forms']['macs']}", f"params: {table['closed_forms']['params']}"]
    per_mac = table["conventions"]["values"]["flops_per_mac"]
    lines.append(f"FLOPs:  {_number(totals['flops'])} ({per_mac} per MAC; conventions: "
                 f"{table['conventions']['preset']})")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
