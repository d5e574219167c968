"""The tracking record's cost does not grow with the number of rules for a group that carries no other
rule's entry (nearly every group).

`tracking.record` drops the entries of rules no longer in the rules file (`live`). It computed every
live rule's key part (a sha256 for a long name) for every group it touched, so one push on a rule
selecting 1,000 groups, in a rules file of 1,000 rules, made a million of them: about a second of
planning on this project's machine (bench/throughput.py: "unmatched event cost" 4.7x at 1,000 rules
and 46x at 10,000, where the budget is flat). The count of key parts computed is what is held here,
not a time (timings are measured in bench/, never asserted).
"""

from __future__ import annotations

from eci_redeploy.planning import tracking

from helpers import DIGEST_A, DIGEST_B

LIVE = [f"service-{i:04d}-with-a-name-long-enough-to-be-hashed-in-a-tag-key" for i in range(1_000)]


def spy_parts(mocker):
    return mocker.patch.object(tracking, "rule_part", wraps=tracking.rule_part)


def test_a_group_without_other_entries_computes_no_key_part_per_live_rule(mocker):
    existing = {"app": "web", tracking.DIGEST: DIGEST_A, tracking.RULE: LIVE[0]}
    parts = spy_parts(mocker)
    tags = tracking.record(existing, version=DIGEST_B, event_time=None, rule=LIVE[0], previous=None, live=LIVE)
    assert tags is not None and {"Key": tracking.RULE, "Value": LIVE[0]} in tags
    assert parts.call_count <= 2, f"{parts.call_count} key parts for one group"


def test_entries_of_rules_gone_from_the_file_are_still_dropped(mocker):
    gone, kept = "retired-rule", LIVE[1]
    existing = {
        tracking.DIGEST: DIGEST_A,
        tracking.RULE: LIVE[0],
        tracking.rule_key(tracking.ENTRY, gone): f"{DIGEST_A}@1",
        tracking.rule_key(tracking.ENTRY, kept): f"{DIGEST_A}@1",
    }
    tags = tracking.record(existing, version=DIGEST_B, event_time=None, rule=LIVE[0], previous=None, live=LIVE)
    assert tags is not None
    keys = {t["Key"] for t in tags}
    assert tracking.rule_key(tracking.ENTRY, kept) in keys
    assert tracking.rule_key(tracking.ENTRY, gone) not in keys
