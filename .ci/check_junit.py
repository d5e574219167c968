"""CI gate on pytest's JUnit report: at least one test, and every collected test passed.

`make test` already fails on a failure, an error, or no tests at all (pytest exit 5); this also
fails on skips (and xfails, which JUnit reports as skips): in CI every tool the suite needs is
installed and every file it reads is in the repository, so a skip means the clone is missing
something.

    python .ci/check_junit.py JUNIT_XML
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    bad = {key: sum(int(s.get(key, 0)) for s in suites) for key in ("failures", "errors", "skipped")}
    passed = total - sum(bad.values())
    print(f"CI: {total} tests collected, {passed} passed, " + ", ".join(f"{v} {k}" for k, v in bad.items()))
    if total == 0:
        print("CI: no tests ran", file=sys.stderr)
        return 1
    if any(bad.values()):
        for case in root.iter("testcase"):
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    reason = " ".join((child.get("message") or "").splitlines()[:1])
                    test = f"{case.get('classname')}::{case.get('name')}"
                    print(f"  {child.tag}: {test} {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
