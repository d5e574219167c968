"""Each image type of the seed document: the exact parameters the plan sends, whole."""

import pytest

from eci_redeploy.core.errors import PlanningError
from eci_redeploy.events.model import PushEvent
from eci_redeploy.planning.planner import plan_event

from helpers import DIGEST_A, group, rule

ENV = {"REG_PASSWORD": "s3cret-p4ss"}
CRED = [{"server": "reg.example.com", "username": "ci", "password_env": "REG_PASSWORD"}]


def push(repository="team/web", host=None, **kw):
    return PushEvent(
        repository, kw.pop("tag", "1.4.0"), kw.pop("digest", DIGEST_A), "test", "ev-1", registry_host=host, **kw
    )


def update_params(image, event, pull=None, **rule_kw):
    """The update step for one group running `image`, minus the parts every update shares."""
    rules = {"pull": pull} if pull is not None else {}
    from eci_redeploy.rules.model import parse_rules

    ruleset = parse_rules({"version": 1, "rules": [rule("r", event.repository, **rules, **rule_kw)]})
    plan = plan_event(event, ruleset, [group("eci-1", image)], ENV)
    assert not plan.skipped, plan.skipped
    (step,) = plan.steps
    params = step.params()
    assert params.pop("RegionId") == "cn-hangzhou"
    assert params.pop("ContainerGroupId") == "eci-1"
    assert params.pop("ClientToken").startswith("er1-")
    assert params.pop("UpdateType") == "IncrementalUpdate"
    assert params.pop("Container.1.Name") == "c1"
    return _without_tracking_tags(params)


def _without_tracking_tags(params):
    tags = {
        params.pop(k): params.pop(k.replace(".Key", ".Value"))
        for k in list(params)
        if k.endswith(".Key") and k.startswith("Tag.")
    }
    assert tags["eci-redeploy.rule"] == "r" and tags["eci-redeploy.digest"]
    return params


CASES = [
    (
        "ECI common image",
        "registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/nginx:1.25",
        push("eci_open/nginx", "registry-vpc.cn-hangzhou.aliyuncs.com"),
        None,
        {"Container.1.Image": f"registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/nginx@{DIGEST_A}"},
    ),
    (
        "Docker official image",
        "nginx:1.25",
        push("library/nginx", "docker.io"),
        None,
        {"Container.1.Image": f"nginx@{DIGEST_A}"},
    ),
    (
        "Docker Hub public image",
        "docker.io/bitnami/redis:7.0",
        push("bitnami/redis", "docker.io"),
        None,
        {"Container.1.Image": f"docker.io/bitnami/redis@{DIGEST_A}"},
    ),
    (
        "ACR Personal Edition, same account",
        "registry-vpc.cn-hangzhou.aliyuncs.com/team/web:1.3.0",
        push(region="cn-hangzhou"),  # an ACR webhook names only the region
        None,
        {"Container.1.Image": f"registry-vpc.cn-hangzhou.aliyuncs.com/team/web@{DIGEST_A}"},
    ),
    (
        "ACR Enterprise Edition, default domain, instance from the event",
        "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com/team/web:1.3.0",
        push(instance_id="cri-abc123", instance_name="acme", region="cn-hangzhou"),
        None,
        {
            "Container.1.Image": f"acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com/team/web@{DIGEST_A}",
            "AcrRegistryInfo.1.InstanceId": "cri-abc123",
            "AcrRegistryInfo.1.InstanceName": "acme",
            "AcrRegistryInfo.1.RegionId": "cn-hangzhou",
            "AcrRegistryInfo.1.Domain.1": "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com",
        },
    ),
    (
        "ACR Enterprise Edition, custom domain from the rule",
        "images.acme.com/team/web:1.3.0",
        push("team/web", "images.acme.com"),
        {"acr": {"instance_id": "cri-abc123", "region": "cn-shanghai", "domains": ["images.acme.com"]}},
        {
            "Container.1.Image": f"images.acme.com/team/web@{DIGEST_A}",
            "AcrRegistryInfo.1.InstanceId": "cri-abc123",
            "AcrRegistryInfo.1.RegionId": "cn-shanghai",
            "AcrRegistryInfo.1.Domain.1": "images.acme.com",
        },
    ),
    (
        "ACR Enterprise Edition, cross-account ARNs",
        "acme-registry.cn-hangzhou.cr.aliyuncs.com/team/web:1.3.0",
        push("team/web", "acme-registry.cn-hangzhou.cr.aliyuncs.com"),
        {
            "acr": {
                "instance_id": "cri-other9",
                "arn_service": "acs:ram::1111:role/eci-pull",
                "arn_user": "acs:ram::2222:role/acr-share",
            }
        },
        # UpdateContainerGroupRequestAcrRegistryInfo (alibabacloud-eci20180808) has no ArnService /
        # ArnUser: the cross-account entry is left off (the group keeps what it was created with; a
        # note says so and names action: replace). CreateContainerGroup carries it: tests/planning/test_plan_is_wire.py.
        {
            "Container.1.Image": f"acme-registry.cn-hangzhou.cr.aliyuncs.com/team/web@{DIGEST_A}",
        },
    ),
    (
        "private registry with credentials",
        "reg.example.com/team/web:1.3.0",
        push("team/web", "reg.example.com"),
        {"credentials": CRED},
        {
            "Container.1.Image": f"reg.example.com/team/web@{DIGEST_A}",
            "ImageRegistryCredential.1.Server": "reg.example.com",
            "ImageRegistryCredential.1.UserName": "ci",
            "ImageRegistryCredential.1.Password": "s3cret-p4ss",
        },
    ),
    (
        # An update cannot carry PlainHttpRegistry: the group keeps what it was created with.
        "self-managed plain HTTP (update)",
        "10.0.0.5:5000/team/web:1.3.0",
        push("team/web", "10.0.0.5:5000"),
        {"plain_http": ["10.0.0.5:5000"]},
        {"Container.1.Image": f"10.0.0.5:5000/team/web@{DIGEST_A}"},
    ),
    (
        "self-managed self-signed (update)",
        "harbor.example.com/team/web:1.3.0",
        push("team/web", "harbor.example.com"),
        {"insecure": ["harbor.example.com"]},
        {"Container.1.Image": f"harbor.example.com/team/web@{DIGEST_A}"},
    ),
]


@pytest.mark.parametrize(("what", "image", "event", "pull", "expected"), CASES, ids=[c[0] for c in CASES])
def test_update_parameters(what, image, event, pull, expected):
    params = update_params(image, event, pull)
    revealed = {k: (v.reveal() if hasattr(v, "reveal") else v) for k, v in params.items()}
    assert revealed == expected


TEMPLATE = {
    "ContainerGroupName": "web",
    "SecurityGroupId": "sg-1",
    "VSwitchId": "vsw-1",
    "Cpu": 1,
    "Memory": 2,
    "Container": [{"Name": "app", "Image": "IMAGE", "Cpu": 1, "Memory": 2}],
}


def create_params(make_rules, image, event, pull):
    template = {**TEMPLATE, "Container": [{**TEMPLATE["Container"][0], "Image": image}]}
    r = rule("r", event.repository, action="create", template="t.yaml", pull=pull)
    plan = plan_event(event, make_rules(r, templates={"t.yaml": template}), [], ENV)
    (step,) = plan.steps
    assert step.action == "CreateContainerGroup"
    params = {k: (v.reveal() if hasattr(v, "reveal") else v) for k, v in step.params().items()}
    base = {
        "ContainerGroupName": "web",
        "SecurityGroupId": "sg-1",
        "VSwitchId": "vsw-1",
        "Cpu": "1",
        "Memory": "2",
        "Container.1.Name": "app",
        "Container.1.Cpu": "1",
        "Container.1.Memory": "2",
        "RegionId": "cn-hangzhou",
    }
    for key, value in base.items():
        assert params.pop(key) == value, key
    assert params.pop("ClientToken").startswith("er1-")
    return _without_tracking_tags(params)


CREATE_CASES = [
    (
        "self-managed plain HTTP",
        "10.0.0.5:5000/team/web:1",
        push("team/web", "10.0.0.5:5000"),
        {"plain_http": ["10.0.0.5:5000", "10.0.0.6:5000"], "image_cache": "off"},
        {"Container.1.Image": f"10.0.0.5:5000/team/web@{DIGEST_A}", "PlainHttpRegistry": "10.0.0.5:5000"},
    ),
    (
        "self-managed self-signed",
        "harbor.example.com/team/web:1",
        push("team/web", "harbor.example.com"),
        {"insecure": ["harbor.example.com"], "image_cache": "off"},
        {"Container.1.Image": f"harbor.example.com/team/web@{DIGEST_A}", "InsecureRegistry": "harbor.example.com"},
    ),
    (
        "Docker Hub image over the internet without NAT, with image cache",
        "nginx:1",
        push("library/nginx", "docker.io"),
        {"internet": "eip"},
        {"Container.1.Image": f"nginx@{DIGEST_A}", "AutoCreateEip": "True", "AutoMatchImageCache": "True"},
    ),
    (
        "digest off: deploy by tag",
        "nginx:1",
        push("library/nginx", "docker.io"),
        {"digest": False, "image_cache": "off"},
        {"Container.1.Image": "nginx:1.4.0"},
    ),
]


@pytest.mark.parametrize(("what", "image", "event", "pull", "expected"), CREATE_CASES, ids=[c[0] for c in CREATE_CASES])
def test_create_parameters(make_rules, what, image, event, pull, expected):
    assert create_params(make_rules, image, event, pull) == expected


def test_private_registry_without_credentials_is_a_planning_error():
    with pytest.raises(PlanningError, match=r"rule r: .*reg\.example\.com, a private registry: add pull\.credentials"):
        update_params("reg.example.com/team/web:1", push("team/web", "reg.example.com"))


def test_missing_password_variable_names_the_variable_not_a_value():
    with pytest.raises(PlanningError, match=r"\$NOPE, which is not set"):
        update_params(
            "reg.example.com/team/web:1",
            push("team/web", "reg.example.com"),
            {"credentials": [{"server": "reg.example.com", "username": "u", "password_env": "NOPE"}]},
        )


def test_public_registry_listed_needs_nothing():
    params = update_params("ghcr.io/team/web:1", push("team/web", "ghcr.io"), {"public": ["ghcr.io"]})
    assert params == {"Container.1.Image": f"ghcr.io/team/web@{DIGEST_A}"}


def test_explicit_credentials_win_over_acr_inference():
    params = update_params(
        "registry.cn-hangzhou.aliyuncs.com/team/web:1",
        push("team/web", "registry.cn-hangzhou.aliyuncs.com"),
        {
            "credentials": [
                {"server": "registry.cn-hangzhou.aliyuncs.com", "username": "u", "password_env": "REG_PASSWORD"}
            ]
        },
    )
    assert params["ImageRegistryCredential.1.Server"] == "registry.cn-hangzhou.aliyuncs.com"
    assert "AcrRegistryInfo.1.InstanceId" not in params


def test_only_hosts_the_group_uses(make_rules):
    params = create_params(
        make_rules,
        "10.0.0.5:5000/team/web:1",
        push("team/web", "10.0.0.5:5000"),
        {"plain_http": ["10.0.0.6:5000", "10.0.0.5:5000"], "insecure": ["10.0.0.7"], "image_cache": "off"},
    )
    assert params["PlainHttpRegistry"] == "10.0.0.5:5000"
    assert "InsecureRegistry" not in params
