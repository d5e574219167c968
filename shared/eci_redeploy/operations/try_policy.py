"""`eci-redeploy test-policy`: before adopting a rule, which tags its registry holds, which the rule's
policy allows (and why not the others), and which one a reconcile would deploy (Argo CD Image
Updater's `test` command, for this product's policies)."""

from __future__ import annotations

from typing import Any

from ..clients.registry_api import RegistryClient
from ..report.audit import version_text
from ..rules.model import Rule, RuleSet
from .reconcile import DEFAULT_PLATFORM, wanted_image


def try_policy(
    rule: Rule, rules: RuleSet, client: RegistryClient, *, platform: str = DEFAULT_PLATFORM
) -> dict[str, Any]:
    policy = rules.policy(rule)
    tags = client.list_tags(rule.source.repository)
    reasons = {t: policy.decide(t) for t in tags}
    allowed = [t for t in tags if reasons[t] is None]
    keys = {t: k for t in allowed if (k := policy.order_key(t)) is not None}
    # the allowed ones first, highest first by the rule's own order; the rest as listed
    ranked = sorted(keys, key=lambda t: keys[t], reverse=True) if policy.ordered else []
    order = ranked + [t for t in tags if t not in keys or not policy.ordered]
    rows = [{"tag": t, "allowed": reasons[t] is None, "reason": reasons[t]} for t in order]
    body: dict[str, Any] = {
        "rule": rule.name,
        "registry": client.host,
        "repository": rule.source.repository,
        "policy": policy.describe(rule.allow_downgrade),
        "tags": rows,
        "allowed": len(allowed),
        "would_deploy": None,
        "notes": [],
    }
    if policy.kind != "exact" and not policy.ordered:
        body["notes"].append("this policy has no order: it deploys each allowed tag as it is pushed (no reconcile)")
        return body
    if policy.stay_within and allowed:
        best = max(keys, key=lambda t: keys[t]) if keys else allowed[0]
        body["notes"].append(f"stay_within {policy.stay_within}: each group moves only within its own version's line")
        resolved = client.resolve(rule.source.repository, best, platform)
    elif allowed or policy.kind == "exact":
        resolved = wanted_image(rule, rules, client, platform)
    else:
        body["notes"].append("no tag in the registry is allowed: a reconcile would change nothing")
        return body
    body["would_deploy"] = {"tag": resolved.tag, "digest": resolved.digest}
    return body


def render(body: dict[str, Any]) -> str:
    out = [f"{body['rule']}: {body['registry']}/{body['repository']}", f"  policy: {body['policy']}"]
    out.append(f"  {len(body['tags'])} tag(s) in the registry, {body['allowed']} allowed:")
    for row in body["tags"]:
        mark = "allowed" if row["allowed"] else f"no: {row['reason']}"
        out.append(f"    {row['tag']:<24} {mark}")
    would = body["would_deploy"]
    out.append(f"  would deploy: {version_text(would['tag'], would['digest']) if would else '(nothing)'}")
    out.extend(f"  note: {n}" for n in body["notes"])
    return "\n".join(out)
