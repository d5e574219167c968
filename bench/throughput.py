"""Planning throughput, warm, on one core: a stream of push events against many rules and groups.

Most events concern repositories no rule watches; some match a rule whose selection covers many
groups. The time per unmatched event must not grow with the number of rules (index by repository).
"""

from __future__ import annotations

import time

from common import Result, report

from eci_redeploy.clients.eci_model import GroupIndex, parse_groups
from eci_redeploy.events.model import PushEvent
from eci_redeploy.planning.decide import decide
from eci_redeploy.rules.model import parse_rules

HOST = "reg.example.com"
DIGEST = "sha256:" + "f" * 64


def make_rules(n: int):
    rules = [
        {
            "name": f"svc-{i}",
            "source": {"repository": f"team/svc-{i}", "registry": HOST, "tags": {"semver": "^1.0.0"}},
            "target": {
                "region": "cn-hangzhou",
                "action": "update",
                "container_groups": {"tags": {"app": f"svc-{i % 1000}"}},
            },
            "pull": {"public": [HOST]},
        }
        for i in range(n)
    ]
    rules.append(
        {
            "name": "big",
            "source": {"repository": "team/big", "registry": HOST, "tags": {"glob": "*"}},
            "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"tags": {"tier": "big"}}},
            "pull": {"public": [HOST]},
        }
    )
    return parse_rules({"version": 1, "rules": rules})


def make_groups(n: int):
    raw = []
    for i in range(n):
        app = f"svc-{i % 1000}"
        big = i % 10 == 0
        raw.append(
            {
                "ContainerGroupId": f"eci-{i:06d}",
                "ContainerGroupName": f"g-{i}",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": app}] + ([{"Key": "tier", "Value": "big"}] if big else []),
                "Containers": [{"Name": "app", "Image": f"{HOST}/team/{app}:1.0.0"}]
                + ([{"Name": "big", "Image": f"{HOST}/team/big:1"}] if big else []),
            }
        )
    return GroupIndex(parse_groups(raw))


def stream(n: int, *, matched_share: float = 0.1, big_every: int = 200):
    events = []
    for k in range(n):
        if k % big_every == 0:
            repo = "team/big"  # selects 1,000 groups
        elif k % int(1 / matched_share) == 0:
            repo = f"team/svc-{k % 1000}"  # selects 10 groups
        else:
            repo = f"other/unwatched-{k}"
        events.append(PushEvent(repo, "1.2.0", DIGEST, "bench", f"ev-{k}", registry_host=HOST))
    return events


def per_event_seconds(rules, groups, events, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for event in events:
            decide([event], rules, groups, {})
        best = min(best, (time.perf_counter() - started) / len(events))
    return best


def run() -> None:
    groups = make_groups(10_000)
    rules = make_rules(1_000)
    events = stream(2_000)
    seconds = per_event_seconds(rules, groups, events)
    steps = sum(len(decide([e], rules, groups, {}).steps) for e in events)
    rate = 1 / seconds
    report(
        Result(
            "planning throughput (1,000 rules, 10,000 groups, 10% matched)",
            rate,
            "events/s",
            f"{steps} update steps planned per pass",
            None,
            ">= 5,000 events/s",
            rate >= 5000,
        )
    )
    unmatched = [e for e in stream(2_000, matched_share=1e-9, big_every=10**9)]
    base = per_event_seconds(make_rules(10), groups, unmatched)
    for n in (1_000, 10_000):
        t = per_event_seconds(make_rules(n), groups, unmatched)
        report(
            Result(
                f"unmatched event cost, {n:,} rules vs 10 rules",
                t / base,
                "x",
                "per event at 10 rules (µs)",
                base * 1e6,
                "~1x (flat)",
                t / base < 2,
            )
        )


if __name__ == "__main__":
    run()
