"""Benchmarks of flopsheet: build time, scaling and memory against raw XlsxWriter, and more.

Usage::

    python bench/run.py [--sizes 100,1000,10000,50000] [--runs 3] [--out bench/results.json]
                        [--skip libreoffice,specs,sweep,reports]

For each size, a synthetic spec of that many layers (bench/synthetic.py) is
built by ``flopsheet build`` in a child process, with ``--no-report`` and with
reports. As the baseline, bench/baseline.py writes a workbook of the same rows
and the same number of formula, number and string cells with raw XlsxWriter.
Each child's wall time and CPU time (user + system) come from ``os.wait4`` and
its peak resident set size from bench/peak.py. Runs alternate between the
three, so a change in the machine's load hits each alike, and the results are
medians over the runs.

Also measured: every spec in specs/ built with reports, and a sweep of 1,000
input side lengths for every spec in specs/, evaluated from the closed forms.
Last, LibreOffice loads and recalculates the 10,000-layer workbook (or the
largest size below it) after tests/oracles.py has stripped its cached values.

The script writes the results as JSON and prints a Markdown summary.
"""

from __future__ import annotations

import argparse
import datetime
import html
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import synthetic  # noqa: E402
from flopsheet.workbook import COL  # noqa: E402

DEFAULT_SIZES = (100, 1000, 10000, 50000)
SKIPPABLE = ("libreoffice", "specs", "sweep", "reports")
SWEEP_POINTS = 1000
# A child process that runs longer than this is stopped and recorded as timed out.
CHILD_TIMEOUT_S = 3600
LIBREOFFICE_SIZE = 10000
# The MACs column of a model sheet, counted from 0.
_MACS_COLUMN = COL["MACs"]

# Targets: (key, description, limit, unit).
TARGETS = (
    ("workbook_ratio_10000", "workbook build at 10,000 layers, time ratio to raw XlsxWriter", 1.5, "x"),
    ("per_layer_ratio_50000", "time per layer at 50,000 layers over that at 1,000", 1.3, "x"),
    ("peak_rss_50000_mb", "peak memory of the workbook build at 50,000 layers", 300, "MB"),
    ("specs_with_reports_s", "every spec in specs/ with reports", 3.0, "s"),
    ("sweep_s", f"{SWEEP_POINTS}-point side sweep of every spec in specs/", 1.0, "s"),
)


# Child processes.

def run_child(target: list[str], work: Path) -> dict:
    """Run ``python TARGET...`` (a script, or ``-m`` and a module) in a child process.

    Returns its wall time, CPU time, peak resident set size (MB) and whether it exited with 0.
    """
    peak_file = work / "peak.json"
    peak_file.unlink(missing_ok=True)
    command = [sys.executable, str(BENCH / "peak.py"), str(peak_file), *target]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = start + CHILD_TIMEOUT_S
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            process.returncode = -9
            return {"ok": False, "error": f"timed out after {CHILD_TIMEOUT_S} s"}
        time.sleep(0.01)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
    result = {"ok": process.returncode == 0, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}
    if peak_file.exists():
        result["peak_rss_mb"] = json.loads(peak_file.read_text(encoding="utf-8"))["peak_rss_mb"]
    if process.returncode != 0:
        result["error"] = f"exit status {process.returncode}: {stderr.strip()[-2000:]}"
    return result


def flopsheet_command(*args: str) -> list[str]:
    return ["-m", "flopsheet.cli", *args]


def summarise(samples: list[dict]) -> dict:
    """Return the medians of the successful samples, with every sample kept."""
    good = [s for s in samples if s.get("ok")]
    summary: dict = {"samples": samples}
    for key in ("wall_s", "cpu_s", "peak_rss_mb"):
        if good and all(key in s for s in good):
            summary[key] = statistics.median(s[key] for s in good)
    if len(good) < len(samples):
        summary["errors"] = [s.get("error") for s in samples if not s.get("ok")]
    return summary


# Workbook layout, for the baseline.

_CELL = re.compile(r"<c r=\"[A-Z]+[0-9]+\"([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_FORMULA = re.compile(r"<f>(.*?)</f>", re.S)
_SHEET = re.compile(r"<sheet name=\"([^\"]*)\"")


def layout_of(xlsx: Path) -> list[dict]:
    """Count each sheet's rows and formula, number and string cells, and its mean formula length."""
    sheets = []
    with zipfile.ZipFile(xlsx) as archive:
        names = [html.unescape(name) for name in _SHEET.findall(archive.read("xl/workbook.xml").decode())]
        for index, name in enumerate(names, start=1):
            xml = archive.read(f"xl/worksheets/sheet{index}.xml").decode("utf-8")
            formulas = numbers = strings = formula_chars = 0
            for attributes, inner in _CELL.findall(xml):
                found = _FORMULA.search(inner or "")
                if found:
                    formulas += 1
                    formula_chars += len(html.unescape(found.group(1))) + 1
                elif 't="s"' in attributes or 't="inlineStr"' in attributes:
                    strings += 1
                else:
                    numbers += 1
            sheets.append({"name": name, "rows": xml.count("<row "), "formulas": formulas, "numbers": numbers,
                           "strings": strings, "formula_length": formula_chars / formulas if formulas else 0})
    return sheets


def workbook_options() -> dict:
    """Return the XlsxWriter options of flopsheet's workbooks, so the baseline writes in the same mode."""
    # NOTE: copied from WorkbookWriter.__init__, which passes them inline, so keep the two in step.
    return {"strings_to_formulas": False, "strings_to_numbers": False}


# The measurements.

def measure_sizes(sizes: list[int], runs: int, work: Path, skip: set[str]) -> dict:
    results = {}
    libreoffice_size = max((size for size in sizes if size <= LIBREOFFICE_SIZE), default=None)
    for size in sizes:
        spec = synthetic.write_spec(work, size)
        out = work / f"out-{size}"
        samples: dict[str, list] = {"workbook": [], "reports": [], "baseline": []}
        layout_path = work / f"layout-{size}.json"
        for run in range(runs):
            print(f"  {size} layers, run {run + 1} of {runs}", file=sys.stderr, flush=True)
            shutil.rmtree(out, ignore_errors=True)
            samples["workbook"].append(run_child(flopsheet_command("build", str(spec), "-o", str(out), "--no-report"),
                                                 work))
            xlsx = out / f"{spec.stem}.xlsx"
            if run == 0:
                if not xlsx.exists():
                    raise RuntimeError(f"flopsheet build wrote no workbook for {size} layers: "
                                       f"{samples['workbook'][0].get('error')}")
                layout = {"options": workbook_options(), "sheets": layout_of(xlsx)}
                layout_path.write_text(json.dumps(layout), encoding="utf-8")
                if size == libreoffice_size:
                    shutil.copy(xlsx, work / "libreoffice.xlsx")
            samples["baseline"].append(run_child([str(BENCH / "baseline.py"), str(layout_path),
                                                  str(work / f"baseline-{size}.xlsx")], work))
            if "reports" not in skip:
                shutil.rmtree(out, ignore_errors=True)
                samples["reports"].append(run_child(flopsheet_command("build", str(spec), "-o", str(out)), work))
        layout = json.loads(layout_path.read_text(encoding="utf-8"))
        model = next(sheet for sheet in layout["sheets"] if sheet["name"] == spec.stem)
        entry = {"layers": size, "model_sheet": model,
                 "cells": sum(s["formulas"] + s["numbers"] + s["strings"] for s in layout["sheets"]),
                 "formula_cells": sum(s["formulas"] for s in layout["sheets"])}
        for kind, kind_samples in samples.items():
            if kind_samples:
                entry[kind] = summarise(kind_samples)
        workbook, baseline = entry["workbook"], entry["baseline"]
        if "wall_s" in workbook and "wall_s" in baseline:
            entry["ratio_wall"] = workbook["wall_s"] / baseline["wall_s"]
            entry["ratio_cpu"] = workbook["cpu_s"] / baseline["cpu_s"]
            entry["workbook_ms_per_layer"] = 1000 * workbook["wall_s"] / size
            entry["baseline_ms_per_layer"] = 1000 * baseline["wall_s"] / size
        results[str(size)] = entry
    return results


def measure_specs(runs: int, work: Path) -> dict:
    samples = []
    for run in range(runs):
        out = work / "specs-out"
        shutil.rmtree(out, ignore_errors=True)
        samples.append(run_child(flopsheet_command("build", str(REPO / "specs"), "-o", str(out)), work))
    result = summarise(samples)
    result["specs"] = len(list((REPO / "specs").glob("*.yaml")))
    return result


def sweep_child() -> None:
    """Time the side sweep in this process and print the timings as JSON (run as a child)."""
    start = time.perf_counter()
    from flopsheet import comparison
    from flopsheet.load import load_network
    imported = time.perf_counter()
    networks = [load_network(path) for path in sorted((REPO / "specs").glob("*.yaml"))]
    loaded = time.perf_counter()
    entries = comparison.entries(networks)
    formed = time.perf_counter()
    sides = range(1, SWEEP_POINTS + 1)
    values = {entry.name: [entry.macs_at_side(side) for side in sides] for entry in entries}
    evaluated = time.perf_counter()
    print(json.dumps({"import_s": imported - start, "load_s": loaded - imported,
                      "closed_forms_s": formed - loaded, "evaluate_s": evaluated - formed,
                      "sweep_s": evaluated - loaded, "specs": len(networks), "points": SWEEP_POINTS,
                      "macs_at_224": {name: vals[223] for name, vals in values.items()}}))


def measure_sweep(runs: int) -> dict:
    samples = []
    for _ in range(runs):
        output = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--sweep-child"],
                                capture_output=True, text=True, check=True).stdout
        samples.append(json.loads(output))
    result = {key: statistics.median(sample[key] for sample in samples)
              for key in ("import_s", "load_s", "closed_forms_s", "evaluate_s", "sweep_s")}
    result.update(specs=samples[0]["specs"], points=SWEEP_POINTS, samples=samples)
    return result


def measure_libreoffice(runs: int, work: Path) -> dict:
    sys.path.insert(0, str(REPO / "tests"))
    import oracles
    import openpyxl

    source = work / "libreoffice.xlsx"
    stripped = work / "libreoffice-stripped.xlsx"
    # Setting h to its own value saves a copy without cached results, so LibreOffice computes every formula.
    oracles.set_inputs(source, stripped, {"h": 224})
    sheet_name = _model_sheet(source)
    layers = int(re.search(r"synthetic-(\d+)", sheet_name).group(1))
    total_row, expected = _total_macs(openpyxl.load_workbook(source, read_only=True, data_only=True)[sheet_name])
    samples = []
    for _ in range(runs):
        before = os.times()
        start = time.perf_counter()
        sheets = oracles.recalculate(stripped, work)
        wall = time.perf_counter() - start
        after = os.times()
        samples.append({"ok": True, "wall_s": wall,
                        "cpu_s": (after.children_user - before.children_user)
                        + (after.children_system - before.children_system)})
    recalculated = oracles.as_number(sheets[sheet_name][total_row][_MACS_COLUMN])
    return {"layers": layers, "sheets": len(sheets), "macs_total": expected,
            "macs_total_recalculated": recalculated,
            # LibreOffice keeps 15 significant digits.
            "values_match": abs(recalculated - expected) <= 1e-14 * abs(expected),
            **summarise(samples)}


def _total_macs(sheet) -> tuple[int, float]:
    """Return the index of the model sheet's Total row and its cached MACs."""
    for index, row in enumerate(sheet.iter_rows(values_only=True)):
        if row[0] == "Total":
            return index, row[_MACS_COLUMN]
    raise RuntimeError("the model sheet has no Total row")


def _model_sheet(xlsx: Path) -> str:
    with zipfile.ZipFile(xlsx) as archive:
        names = _SHEET.findall(archive.read("xl/workbook.xml").decode())
    return next(name for name in names if name.startswith("synthetic-"))


# Report.

def machine() -> dict:
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        found = re.search(r"Model name:\s*(.+)", lscpu)
        model = found.group(1).strip() if found else ""
    except OSError:
        pass
    memory_kb = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"MemTotal:\s*(\d+) kB", meminfo.read_text())
        memory_kb = int(found.group(1)) if found else 0
    import sympy
    import xlsxwriter
    return {"cpu": model, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024 ** 2, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "xlsxwriter": xlsxwriter.__version__, "sympy": sympy.__version__,
            "load_average_at_start": os.getloadavg()}


def targets(results: dict) -> list[dict]:
    sizes = results.get("sizes", {})
    values = {}
    if "10000" in sizes and "ratio_wall" in sizes["10000"]:
        values["workbook_ratio_10000"] = sizes["10000"]["ratio_wall"]
    if "1000" in sizes and "50000" in sizes and "wall_s" in sizes["50000"]["workbook"]:
        values["per_layer_ratio_50000"] = (sizes["50000"]["workbook"]["wall_s"] / 50000) / (
            sizes["1000"]["workbook"]["wall_s"] / 1000)
    if "50000" in sizes and "peak_rss_mb" in sizes["50000"]["workbook"]:
        values["peak_rss_50000_mb"] = sizes["50000"]["workbook"]["peak_rss_mb"]
    if "wall_s" in results.get("specs", {}):
        values["specs_with_reports_s"] = results["specs"]["wall_s"]
    if "sweep_s" in results.get("sweep", {}):
        values["sweep_s"] = results["sweep"]["sweep_s"]
    found = []
    for key, description, limit, unit in TARGETS:
        value = values.get(key)
        found.append({"target": key, "description": description, "limit": limit, "unit": unit,
                      "value": value, "met": None if value is None else value < limit})
    return found


def markdown(results: dict) -> str:
    lines = ["| layers | rows | formula cells | workbook (s) | CPU (s) | peak RSS (MB) | with reports (s) "
             "| reports peak RSS (MB) | raw XlsxWriter (s) | ratio (wall) | ratio (CPU) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size, entry in results.get("sizes", {}).items():
        workbook, baseline = entry["workbook"], entry["baseline"]
        reports = entry.get("reports", {})
        lines.append(f"| {int(size):,} | {entry['model_sheet']['rows']:,} | {entry['formula_cells']:,} "
                     f"| {_s(workbook, 'wall_s')} | {_s(workbook, 'cpu_s')} | {_s(workbook, 'peak_rss_mb', 0)} "
                     f"| {_s(reports, 'wall_s')} | {_s(reports, 'peak_rss_mb', 0)} | {_s(baseline, 'wall_s')} "
                     f"| {_ratio(entry, 'ratio_wall')} | {_ratio(entry, 'ratio_cpu')} |")
    lines.append("")
    if "specs" in results:
        specs = results["specs"]
        lines.append(f"- every spec in specs/ ({specs['specs']}) with reports: {_s(specs, 'wall_s')} s "
                     f"(CPU {_s(specs, 'cpu_s')} s, peak RSS {_s(specs, 'peak_rss_mb', 0)} MB)")
    if "sweep" in results:
        sweep = results["sweep"]
        lines.append(f"- side sweep, {sweep['points']} points for {sweep['specs']} specs: {sweep['sweep_s']:.3f} s "
                     f"(closed forms {sweep['closed_forms_s']:.3f} s, evaluation {sweep['evaluate_s']:.3f} s; "
                     f"loading the specs {sweep['load_s']:.3f} s and imports {sweep['import_s']:.3f} s besides)")
    if "libreoffice" in results:
        office = results["libreoffice"]
        lines.append(f"- LibreOffice loading and recalculating the {office['layers']:,}-layer workbook: "
                     f"{_s(office, 'wall_s')} s (CPU {_s(office, 'cpu_s')} s)")
    lines += ["", "| target | limit | measured | met |", "|---|---:|---:|---|"]
    verdicts = {None: "", True: "met", False: "not met"}
    for target in results["targets"]:
        value = "not measured" if target["value"] is None else f"{target['value']:.2f} {target['unit']}"
        met = verdicts[target["met"]]
        lines.append(f"| {target['description']} | {target['limit']} {target['unit']} | {value} | {met} |")
    return "\n".join(lines)


def _s(summary: dict, key: str, digits: int = 2) -> str:
    return f"{summary[key]:,.{digits}f}" if key in summary else "–"


def _ratio(entry: dict, key: str) -> str:
    return f"{entry[key]:.2f}" if key in entry else "–"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated layer counts of the synthetic specs (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement (default: %(default)s)")
    parser.add_argument("--out", default=str(BENCH / "results.json"), help="results file (default: %(default)s)")
    parser.add_argument("--skip", default="", help=f"comma-separated parts to leave out: {', '.join(SKIPPABLE)}")
    parser.add_argument("--sweep-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.skip = {part for part in args.skip.split(",") if part}
    unknown = args.skip - set(SKIPPABLE)
    if unknown:
        parser.error(f"unknown part to skip: {', '.join(sorted(unknown))} (choose from {', '.join(SKIPPABLE)})")
    args.sizes = [int(size) for size in args.sizes.split(",") if size]
    return args


def measure_all(args: argparse.Namespace) -> dict:
    results: dict = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     "command": " ".join([Path(sys.executable).name, *sys.argv]), "runs": args.runs,
                     "machine": machine()}
    work = Path(tempfile.mkdtemp(prefix="flopsheet-bench-"))
    try:
        print("synthetic specs", file=sys.stderr, flush=True)
        results["sizes"] = measure_sizes(args.sizes, args.runs, work, args.skip)

        if "specs" not in args.skip:
            print("specs/ with reports", file=sys.stderr, flush=True)
            results["specs"] = measure_specs(args.runs, work)

        if "sweep" not in args.skip:
            print("side sweep", file=sys.stderr, flush=True)
            results["sweep"] = measure_sweep(args.runs)

        if "libreoffice" not in args.skip and (work / "libreoffice.xlsx").exists():
            print("LibreOffice", file=sys.stderr, flush=True)
            results["libreoffice"] = measure_libreoffice(args.runs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["targets"] = targets(results)
    return results


def main() -> None:
    args = parse_arguments()
    if args.sweep_child:
        sweep_child()
        return
    results = measure_all(args)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown(results))


if __name__ == "__main__":
    main()
