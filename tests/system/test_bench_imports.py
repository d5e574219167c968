"""`make bench` stays runnable: every benchmark module imports against the package as it is now.

Benchmarks are not run in the suite (timings are measured, never asserted), so a renamed module they
import went unnoticed once: bench/gates.py imported `eci_redeploy.gates.spec` for months after it moved
to `rules/gates.py`, and `make bench` failed at its first line. Importing bench/run.py (which imports
every benchmark) in a fresh interpreter, from bench/ as `make bench` runs it, catches that.
"""

from __future__ import annotations

import subprocess
import sys

from helpers import ROOT

BENCH = ROOT / "bench"


def test_every_benchmark_module_imports_as_make_bench_runs_it():
    listed = sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in ("run", "common"))
    script = (
        "import importlib, sys\n"
        "import run\n"
        f"missing = [m for m in {listed!r} if m not in sys.modules]\n"
        "no_run = [m for m in sys.modules if m in set(%r) and not callable(getattr(sys.modules[m], 'run', None))]\n"
        "print(missing, no_run)\n"
    ) % (listed,)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=BENCH, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # every benchmark file is run by bench/run.py, and each has its run()
    assert done.stdout.strip() == "[] []", done.stdout
