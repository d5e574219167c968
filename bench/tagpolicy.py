"""Tag policies: user regexes on RE2 against a catastrophic pattern (Python's backtracking `re` as the
baseline, on a shorter tag so the benchmark ends), and the cost of a semver decision per push."""

from __future__ import annotations

import re
import statistics
import time

from common import Result, report

from eci_redeploy.rules.tagpolicy import MAX_TAG, TagPolicy, parse_range

EVIL = r"(a+)+$"  # the example: exponential in the tag's length under backtracking


def _median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(repeat: int = 5) -> None:
    policy = TagPolicy("regex", EVIL)
    backtracking = re.compile(EVIL)
    short = "a" * 20 + "!"
    baseline = _median_seconds(lambda: backtracking.fullmatch(short), 3)
    for n in (24, MAX_TAG - 1):
        tag = "a" * n + "!"
        value = _median_seconds(lambda t=tag: policy.allows(t), repeat)
        report(
            Result(
                f"regex (a+)+$ on a {n + 1}-character tag (RE2)",
                round(value * 1e6, 1),
                "us",
                "Python re, 21-character tag",
                round(baseline * 1e6, 1),
                "linear: < 1 ms",
                value < 1e-3,
            )
        )
    parse_range.cache_clear()
    cold = _median_seconds(lambda: (parse_range.cache_clear(), parse_range(">=1.2.0, <2.0.0 !=1.3.1 || ^3.1")), 50)
    semver = TagPolicy("semver", ">=1.2.0, <2.0.0 !=1.3.1 || ^3.1")
    tags = [f"1.{i}.{j}" for i in range(10) for j in range(10)]
    per_tag = _median_seconds(lambda: [semver.allows(t) for t in tags], repeat) / len(tags)
    report(Result("semver range parse (once per rule)", round(cold * 1e6, 1), "us"))
    report(Result("semver decision per pushed tag (cached parse)", round(per_tag * 1e6, 2), "us"))
    calver = TagPolicy("calver", "YYYY.0M.0D[-MICRO]")
    dates = [f"2024.{m:02d}.{d:02d}-{b}" for m in range(1, 11) for d in range(1, 11) for b in (1,)]
    per_date = _median_seconds(lambda: [calver.allows(t) and calver.order_key(t) for t in dates], repeat) / len(dates)
    report(Result("calver decision + order key per pushed tag", round(per_date * 1e6, 2), "us"))
