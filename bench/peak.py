"""Run a Python module or script, then write its peak resident set size to a JSON file.

Usage: ``python bench/peak.py OUT.json -m MODULE [ARGS...]`` or ``python bench/peak.py OUT.json SCRIPT [ARGS...]``

The peak is VmHWM from /proc/self/status, the high-water mark of this process's
memory since it started. The ru_maxrss that os.wait4 returns for a child is no
use for this, because Linux (6.18 here) starts a child's record with the
resident size of the process that started it. A 13 MB child of a 500 MB
benchmark process reports 513 MB.
"""

from __future__ import annotations

import json
import runpy
import sys


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MB (VmHWM, which /proc gives in kB)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


def main() -> None:
    out, target, *rest = sys.argv[1:]
    code = 0
    try:
        if target == "-m":
            module, *arguments = rest
            sys.argv = [module, *arguments]
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            sys.argv = [target, *rest]
            runpy.run_path(target, run_name="__main__")
    except SystemExit as stop:
        # sys.exit() takes None (success), a status, or a message (failure).
        if stop.code is None:
            code = 0
        elif isinstance(stop.code, int):
            code = stop.code
        else:
            code = 1
    with open(out, "w", encoding="utf-8") as stream:
        json.dump({"peak_rss_mb": peak_rss_mb()}, stream)
    sys.exit(code)


if __name__ == "__main__":
    main()
