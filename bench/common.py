"""Helpers for the benchmarks: repeated runs, medians, and one output format.

Every result is a JSON line {"name", "value", "unit", "baseline", "baseline_value", "budget", "ok"}
plus a readable table at the end. Benchmarks report; they never fail on a timing.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))
sys.path.insert(0, str(ROOT / "tests"))

import logging  # noqa: E402

from eci_redeploy.core.log import set_level  # noqa: E402

set_level(logging.WARNING)  # the benchmarks print numbers, not the call log

RSS_PRINTER = (
    "import resource, sys; sys.stderr.write(f'\\n@@rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')"
)


@dataclass
class Result:
    name: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    budget: str = ""
    ok: bool | None = None

    def line(self) -> str:
        return json.dumps(asdict(self))


RESULTS: list[Result] = []


def report(result: Result) -> Result:
    RESULTS.append(result)
    print(result.line(), flush=True)
    return result


def timed_process(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT) -> tuple[float, int]:
    """Wall seconds of a fresh process, and its peak RSS in KiB (printed by the child at exit)."""
    code = argv[-1] + "\n" + RSS_PRINTER
    started = time.perf_counter()
    out = subprocess.run([*argv[:-1], code], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    rss = [int(line.split()[1]) for line in out.stderr.splitlines() if line.startswith("@@rss")]
    return elapsed, rss[-1] if rss else 0


def median_of(samples: list[float]) -> float:
    return statistics.median(samples)


def table() -> str:
    rows = [("benchmark", "value", "baseline", "budget", "ok")]
    for r in RESULTS:
        base = f"{r.baseline} = {r.baseline_value:.4g}" if r.baseline_value is not None else r.baseline
        ok = "" if r.ok is None else ("yes" if r.ok else "MISSED")
        rows.append((r.name, f"{r.value:.4g} {r.unit}", base, r.budget, ok))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
