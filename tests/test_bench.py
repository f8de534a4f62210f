"""The benchmark script runs on the smallest size and writes its results file (it times nothing here)."""

from __future__ import annotations

import json
import subprocess
import sys

from support import REPO


def test_benchmark_writes_results(tmp_path):
    out = tmp_path / "results.json"
    command = [sys.executable, str(REPO / "bench" / "run.py"), "--sizes", "20", "--runs", "1",
               "--skip", "libreoffice,specs", "--out", str(out)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    results = json.loads(out.read_text(encoding="utf-8"))

    assert {"date", "command", "runs", "machine", "sizes", "sweep", "targets"} <= set(results)
    assert {"cpu", "cores", "memory_gb", "python"} <= set(results["machine"])
    size = results["sizes"]["20"]
    assert size["layers"] == 20
    # A row per layer, besides the header, subtotal and total rows.
    assert size["model_sheet"]["rows"] > 20
    assert size["formula_cells"] > size["model_sheet"]["rows"]
    for kind in ("workbook", "reports", "baseline"):
        assert len(size[kind]["samples"]) == 1
        assert size[kind]["samples"][0]["ok"], size[kind]["samples"][0]
        assert size[kind]["wall_s"] > 0
        assert size[kind]["peak_rss_mb"] > 0
    assert size["ratio_wall"] > 0
    assert results["sweep"]["points"] == 1000
    assert results["sweep"]["specs"] == len(list((REPO / "specs").glob("*.yaml")))
    assert [target["target"] for target in results["targets"]] == [
        "workbook_ratio_10000", "per_layer_ratio_50000", "peak_rss_50000_mb", "specs_with_reports_s", "sweep_s"]
    assert "| 20 |" in finished.stdout
