"""Run every benchmark: JSON lines as they come, then a table. `make bench` (or `python bench/run.py`).

Timings are medians of repeated runs, reported against a baseline measured in the same run; budgets
are shown, never enforced (these machines are noisy): benchmarks are not tests.
"""

from __future__ import annotations

import platform
import sys

import cold_start
import deliveries
import economy
import gates
import headofline
import latency
import load
import observe
import scale
import scaling
import tagpolicy
import throughput
from common import table


def main() -> int:
    quick = "--quick" in sys.argv
    print(
        f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
        f"{platform.system()} {platform.release()}",
        flush=True,
    )
    cold_start.run(5 if quick else 15)
    throughput.run()
    economy.run()
    deliveries.run()
    gates.run()
    latency.run(3 if quick else 9)
    load.run()
    headofline.run()
    scale.run(20 if quick else 60, 0.05, 8 if quick else 20)
    observe.run()
    scaling.run()
    tagpolicy.run()
    print()
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
