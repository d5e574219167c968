"""Skip reasons carry the selector used, the hosts found and the fix (issue 24)."""

from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.executor import DryRun
from eci_redeploy.pipeline import run

from helpers import described, rule

CUSTOM = "registry.cn-shanghai.aliyuncs.com"  # the custom domain of an ACR EE instance


def acr_push(tag="1.4.3"):
    # What the ACR EE EventBridge adapter makes of a push (events/acr-ee-push.json): the instance, not a host.
    return PushEvent(
        "acme/api",
        tag,
        "sha256:" + "e" * 64,
        "acr-eventbridge",
        "ev-acr",
        instance_id="cri-abc123",
        instance_name="acme",
        region="cn-shanghai",
        signed=True,
    )


def test_a_custom_domain_missing_from_pull_acr_domains_is_named_with_the_fix(make_rules, eci):
    rules = make_rules(
        {
            **rule("api", "acme/api", selector={"name": "api"}, pull={"acr": {"instance_id": "cri-abc123"}}),
            "source": {"repository": "acme/api", "registry": "cri-abc123", "tags": {"glob": "*"}},
        }
    )
    eci.backend.seed([described("eci-api", f"{CUSTOM}/acme/api:1.4.2", name="api")])
    report = run([acr_push()], rules, eci.gateway, {}, executor=DryRun())
    (skip,) = report.plan.skipped
    # before: "no container runs acme/api", while the group runs registry.cn-shanghai.aliyuncs.com/acme/api:1.4.2
    assert f"the group runs {CUSTOM}/acme/api" in skip.reason
    assert f"add {CUSTOM} to pull.acr.domains" in skip.reason
    assert eci.backend.mutating_calls() == []


def test_with_the_domain_added_the_same_push_deploys(make_rules, eci):
    acr = {"instance_id": "cri-abc123", "instance_name": "acme", "domains": [CUSTOM]}
    rules = make_rules(
        {
            **rule("api", "acme/api", selector={"name": "api"}, pull={"acr": acr}),
            "source": {"repository": "acme/api", "registry": "cri-abc123", "tags": {"glob": "*"}},
        }
    )
    eci.backend.seed([described("eci-api", f"{CUSTOM}/acme/api:1.4.2", name="api")])
    report = run([acr_push()], rules, eci.gateway, {}, executor=DryRun())
    assert [s.target for s in report.plan.steps] == ["eci-api"]  # the hint's fix is the fix


def test_a_selector_that_matches_nothing_names_itself(make_rules, eci):
    selector = {"tags": {"app": "web", "env": "prod"}}
    rules = make_rules(rule("web", selector=selector, pull={"public": ["reg.example.com"]}))
    eci.backend.seed([described("eci-1", "reg.example.com/team/web:1.0.0", app="web")])
    push = PushEvent("team/web", "1.1.0", None, "distribution", "ev-1", registry_host="reg.example.com")
    (skip,) = run([push], rules, eci.gateway, {}, executor=DryRun()).plan.skipped
    assert "tags app=web,env=prod in cn-hangzhou" in skip.reason and "check the selector" in skip.reason
