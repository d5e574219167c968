"""What reading a described fleet costs: DescribeContainerGroups pages of groups with every container
field set (tests/full_spec.py), parsed into the product's observed model (`parse_groups`), against the
SDK's own work on the same pages (`from_map` + `to_map`, which every describe pays first). Warm, with
the garbage collector running, as in a worker."""

from __future__ import annotations

import statistics
import time

from common import Result, report

from eci_redeploy.clients.eci_model import parse_groups
from eci_redeploy.clients.eci_wire import flatten
from eci_redeploy.fake.describe import describe_group
from eci_redeploy.fake.models import FakeEci
from full_spec import create_body

GROUPS = 2000
PAGE = 20


def _described() -> dict:
    backend = FakeEci()
    gid = backend.handle("CreateContainerGroup", flatten(create_body()))["ContainerGroupId"]
    return describe_group(backend.group(gid))


def _per_group(work, pages) -> float:
    kept = []  # a fleet is kept while it is planned: the collector sees all of it
    started = time.perf_counter()
    for page in pages:
        kept.append(work(page))
    return (time.perf_counter() - started) / GROUPS * 1e6


def run(repeats: int = 5) -> None:
    from alibabacloud_eci20180808 import models

    one = _described()
    pages = [[dict(one, ContainerGroupId=f"eci-{p}-{i}") for i in range(PAGE)] for p in range(GROUPS // PAGE)]

    def sdk(page):
        return models.DescribeContainerGroupsResponseBody().from_map({"ContainerGroups": page}).to_map()

    ours = statistics.median(_per_group(parse_groups, pages) for _ in range(repeats))
    theirs = statistics.median(_per_group(sdk, pages) for _ in range(repeats))
    report(
        Result(
            f"observed model, a described group with every container field ({GROUPS} groups, pages of {PAGE})",
            ours,
            "us/group",
            "the SDK's from_map + to_map of the same groups (us/group)",
            theirs,
            "<= the SDK's own cost",
            ours <= theirs,
        )
    )


if __name__ == "__main__":
    run()
