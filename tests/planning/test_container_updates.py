"""How an update sends containers, and how a rollback puts them back, against a group with every
container field set, through the real SDK against the fake (in-process and on the wire):

- issue 22 item 7: `update: {containers: full}` resends each changed container's whole described spec
  (default: incremental, name and image), keys as alibabacloud-eci20180808's
  UpdateContainerGroupRequestContainer serialises them;
- issue 22 item 6: the rollback of a same-tag re-push puts ImagePullPolicy back as it was observed;
- issue 22 item 5: a group with RestartPolicy Never is not updated or restarted in place unless the rule
  says so (https://www.alibabacloud.com/help/en/eci/developer-reference/api-eci-2018-08-08-updatecontainergroup:
  "Updating an ECI instance with a RestartPolicy of Never may cause containers to fail").
"""

from __future__ import annotations

import copy

import pytest

from eci_redeploy.clients.eci_spec import container_spec
from eci_redeploy.clients.eci_wire import flatten, unflatten
from eci_redeploy.core.errors import RulesError
from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.executor import Executor, Preview
from eci_redeploy.pipeline import run
from full_spec import APP, HOST, INIT, SIDECAR, create_body

from helpers import DIGEST_A, FakeTime, rule

NEW = f"{HOST}/team/web@{DIGEST_A}"


def push(tag="1.1.0", digest=DIGEST_A):
    return [PushEvent("team/web", tag, digest, "distribution", f"ev-{tag}-{digest}", registry_host=HOST)]


def rules(make_rules, *, action="update", update=None, **rollout):
    body = {**rule("web", action=action, pull={"public": [HOST]}), "rollout": {"poll_seconds": 1, **rollout}}
    if update is not None:
        body["update"] = update
    return make_rules(body)


def created(eci, **kwargs):
    gid = eci.gateway.call("CreateContainerGroup", create_body(**kwargs)).body["ContainerGroupId"]
    eci.backend.settle()
    return gid


def described(eci, gid):
    eci.backend.settle()
    (group,) = eci.gateway.describe("cn-hangzhou", ids=[gid])
    return group


def specs(eci, gid):
    group = described(eci, gid)
    return [container_spec(c, init=False) for c in group.containers], [
        container_spec(c, init=True) for c in group.init_containers
    ]


def wire(*containers):
    """Containers as they arrive in the fake: flattened by the SDK, every value a string."""
    return unflatten(flatten({"Container": list(containers)}))["Container"]


def update_calls(eci):
    return [unflatten(c.params) for c in eci.backend.mutating_calls("UpdateContainerGroup")]


# ---- item 7: update: {containers: full} ----


def test_a_full_resend_sends_the_whole_described_container(eci, make_rules):
    gid = created(eci)
    report = run(push(), rules(make_rules, update={"containers": "full"}), eci.gateway, {})
    assert [o.status for o in report.outcomes] == ["applied"]
    (sent,) = update_calls(eci)
    # the container that runs team/web, whole, with the new image; the sidecar (team/proxy) is not sent
    assert sent["Container"] == wire({**APP, "Image": NEW}) and "InitContainer" not in sent
    assert sent["UpdateType"] == "IncrementalUpdate"
    assert specs(eci, gid) == ([{**APP, "Image": NEW}, SIDECAR], [INIT])
    assert sent["Container"][0]["EnvironmentVar"][1] == {"Key": "DB_PASSWORD", "Value": "s3cret-value"}


def test_the_plan_of_a_full_resend_masks_environment_values(eci, make_rules):
    created(eci)
    report = run(push(), rules(make_rules, update={"containers": "full"}), eci.gateway, {}, executor=Preview())
    (step,) = report.plan.steps
    params = step.to_json()["params"]
    assert params["Container.1.EnvironmentVar.2.Key"] == "DB_PASSWORD"
    assert params["Container.1.EnvironmentVar.2.Value"] == "******"
    assert params["Container.1.ReadinessProbe.HttpGet.Path"] == "/healthz"
    assert params["Container.1.SecurityContext.RunAsUser"] == "1000"
    assert "s3cret-value" not in repr(report.to_json())
    assert any("update.containers: full" in n and "lifecycle hooks" in n for n in step.notes)
    assert [c.action for c in eci.backend.mutating_calls()] == ["CreateContainerGroup"]


@pytest.mark.parametrize("semantics", ["merge", "replace"])
def test_a_full_resend_keeps_every_field_whichever_way_eci_applies_it(eci, make_rules, semantics):
    eci.backend.container_update = semantics
    gid = created(eci)
    run(push(), rules(make_rules, update={"containers": "full"}), eci.gateway, {})
    assert specs(eci, gid) == ([{**APP, "Image": NEW}, SIDECAR], [INIT])


def test_the_default_incremental_update_relies_on_eci_merging_the_container(eci, make_rules):
    """What docs/fake.md says happens if the merge assumption is wrong: an incremental update, applied as a
    replacement, would leave the container with its name, its new image and ECI's defaults."""
    eci.backend.container_update = "replace"
    gid = created(eci)
    run(push(), rules(make_rules), eci.gateway, {})
    (sent,) = update_calls(eci)
    assert sent["Container"] == wire({"Name": "app", "Image": NEW})
    (app, sidecar), _ = specs(eci, gid)
    assert "Command" not in app and "EnvironmentVar" not in app and sidecar == SIDECAR


def test_a_full_rollback_puts_back_every_field(eci, make_rules):
    eci.backend.container_update = "replace"
    gid = created(eci)
    eci.backend.faults.broken_images = [f"*{DIGEST_A}"]
    t = FakeTime()
    report = run(push(), rules(make_rules, update={"containers": "full"}, timeout_seconds=5), eci.gateway, {},
                 executor=Executor(clock=t.clock))  # fmt: skip
    assert [o.status for o in report.outcomes] == ["rolled-back"]
    forward, back = update_calls(eci)
    assert back["Container"] == wire(APP) and forward["Container"] == wire({**APP, "Image": NEW})
    assert specs(eci, gid) == ([APP, SIDECAR], [INIT])


# ---- item 6: ImagePullPolicy of a same-tag re-push ----


@pytest.mark.parametrize("update", [None, {"containers": "full"}])
def test_a_rollback_of_a_same_tag_re_push_restores_the_pull_policy(eci, make_rules, update):
    gid = created(eci)
    eci.backend.faults.broken_images = [f"{HOST}/team/web:1.0.0"]  # the re-pushed content cannot start
    t = FakeTime()
    report = run(push("1.0.0", None), rules(make_rules, update=update, timeout_seconds=5), eci.gateway, {},
                 executor=Executor(clock=t.clock))  # fmt: skip
    assert [o.status for o in report.outcomes] == ["rolled-back"]
    forward, back = update_calls(eci)
    assert forward["Container"][0]["ImagePullPolicy"] == "Always"
    assert back["Container"][0]["ImagePullPolicy"] == "IfNotPresent"  # as APP was created
    app = described(eci, gid).containers[0]
    assert (app.image, app.image_pull_policy) == (APP["Image"], "IfNotPresent")


# ---- item 5: RestartPolicy Never ----


@pytest.mark.parametrize("action", ["update", "restart"])
def test_a_group_that_never_restarts_is_not_changed_in_place(eci, make_rules, action):
    gid = created(eci, restart_policy="Never")
    report = run(push(), rules(make_rules, action=action), eci.gateway, {})
    assert report.outcomes == []
    (skip,) = report.to_json()["skipped"]
    assert skip["target"] == gid
    assert "RestartPolicy is Never" in skip["reason"] and "action: replace" in skip["reason"]
    assert "restart_policy_never: in-place" in skip["reason"]
    assert [c.action for c in eci.backend.mutating_calls()] == ["CreateContainerGroup"]


def test_the_opt_in_changes_it_and_says_what_eci_warns_of(eci, make_rules):
    gid = created(eci, restart_policy="Never")
    report = run(push(), rules(make_rules, update={"restart_policy_never": "in-place"}), eci.gateway, {})
    assert [o.status for o in report.outcomes] == ["applied"]
    assert any("RestartPolicy is Never" in n for n in report.outcomes[0].step.notes)
    assert described(eci, gid).containers[0].image == NEW


def test_a_failed_never_group_cannot_be_rolled_back(eci, make_rules):
    """Why the default skips: when ECI's "may fail" happens, the group is Failed, and ECI refuses to update
    a group that is not Pending or Running, so the rollback is refused too."""
    eci.backend.never_policy_fails = True
    gid = created(eci, restart_policy="Never")
    t = FakeTime()
    rules_file = rules(make_rules, update={"restart_policy_never": "in-place"}, timeout_seconds=5)
    report = run(push(), rules_file, eci.gateway, {}, executor=Executor(clock=t.clock))
    (outcome,) = report.outcomes
    assert outcome.status == "failed" and "rollback failed" in outcome.error and "IncorrectStatus" in outcome.error
    assert described(eci, gid).status == "Failed"


@pytest.mark.parametrize(
    ("action", "update", "message"),
    [
        ("restart", {"containers": "full"}, "update.containers: full goes with action: update"),
        ("replace", {"restart_policy_never": "in-place"}, "update.restart_policy_never goes with action"),
        ("update", {"containers": "whole"}, "containers"),
    ],
)
def test_validate_refuses_an_update_section_that_does_not_fit(make_rules, action, update, message):
    body = {**rule("web", action=action), "update": update}
    if action == "replace":
        body["target"]["template"] = "t.yaml"
    with pytest.raises(RulesError) as info:
        make_rules(body, templates={"t.yaml": {"ContainerGroupName": "web", "Container": [copy.deepcopy(APP)]}})
    assert message in str(info.value)


def test_validate_reads_the_update_section_back(tmp_path):
    from click.testing import CliRunner

    from eci_redeploy.cli import cli

    body = {**rule("web"), "update": {"containers": "full", "restart_policy_never": "in-place"}}
    path = tmp_path / "rules.yaml"
    path.write_text(__import__("yaml").safe_dump({"version": 1, "rules": [body]}))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "changed containers resent in full; RestartPolicy Never groups changed in place" in result.output
