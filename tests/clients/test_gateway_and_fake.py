"""The gateway through the real SDK against the fake, in-process and on the wire (see the `eci` fixture)."""

import json

import pytest

from eci_redeploy.core.errors import EciApiError, EciAuthError, IdempotencyConflict, RetryableEciError

from helpers import DIGEST_A

REGION = "cn-hangzhou"


def create_body(name="web-1", image="nginx:1", token="tok-create", tags=None):
    return {
        "RegionId": REGION,
        "ContainerGroupName": name,
        "ClientToken": token,
        "Cpu": 1,
        "Memory": 2,
        "Container": [{"Name": "app", "Image": image, "Port": [{"Port": 80, "Protocol": "TCP"}]}],
        "Tag": [{"Key": k, "Value": v} for k, v in (tags or {"app": "web"}).items()],
    }


def create(eci, **kw):
    return eci.gateway.call("CreateContainerGroup", create_body(**kw)).body["ContainerGroupId"]


def test_create_update_restart_delete(eci):
    gid = create(eci)
    (g,) = eci.gateway.describe(REGION, ids=[gid])
    assert (g.status, g.containers[0].image, g.tag_map) == ("Running", "nginx:1", {"app": "web"})
    update = {
        "RegionId": REGION,
        "ContainerGroupId": gid,
        "ClientToken": "tok-up",
        "UpdateType": "IncrementalUpdate",
        "Container": [{"Name": "app", "Image": f"nginx@{DIGEST_A}"}],
    }
    result = eci.gateway.call("UpdateContainerGroup", update)
    assert result.request_id
    assert eci.gateway.describe(REGION, ids=[gid])[0].containers[0].image == f"nginx@{DIGEST_A}"
    eci.gateway.call("RestartContainerGroup", {"RegionId": REGION, "ContainerGroupId": gid, "ClientToken": "tok-r"})
    assert eci.backend.group(gid).restart_count == 1
    eci.gateway.call("DeleteContainerGroup", {"RegionId": REGION, "ContainerGroupId": gid, "ClientToken": "tok-d"})
    assert eci.gateway.describe(REGION, ids=[gid]) == []
    assert [c.action for c in eci.backend.mutating_calls()] == [
        "CreateContainerGroup",
        "UpdateContainerGroup",
        "RestartContainerGroup",
        "DeleteContainerGroup",
    ]


def test_the_fake_receives_exactly_the_planned_parameters(eci):
    create(eci)
    (call,) = eci.backend.mutating_calls()
    assert call.params == {
        "RegionId": REGION,
        "ContainerGroupName": "web-1",
        "ClientToken": "tok-create",
        "Cpu": "1",
        "Memory": "2",
        "Container.1.Name": "app",
        "Container.1.Image": "nginx:1",
        "Container.1.Port.1.Port": "80",
        "Container.1.Port.1.Protocol": "TCP",
        "Tag.1.Key": "app",
        "Tag.1.Value": "web",
    }


def test_describe_pages_over_45_groups(eci):
    for i in range(45):
        create(eci, name=f"g-{i:02d}", token=f"t{i}", tags={"app": "web"} if i % 3 else {"app": "api"})
    create(eci, name="other", token="o", tags={"app": "web"})
    eci.backend.calls.clear()
    groups = eci.gateway.describe(REGION, tags={"app": "web"})
    assert len(groups) == 31
    everything = eci.gateway.describe(REGION)
    assert len(everything) == 46 and len({g.id for g in everything}) == 46
    pages = [c for c in eci.backend.calls if c.action == "DescribeContainerGroups"]
    assert len(pages) == 2 + 3  # ceil(31/20) + ceil(46/20)
    assert all(c.params["Limit"] == "20" for c in pages)
    ids = [g.id for g in everything[:25]]
    assert [g.id for g in eci.gateway.describe(REGION, ids=ids)] == ids  # chunked by 20


def test_describe_by_name(eci):
    create(eci, name="aa", token="1")
    create(eci, name="bb", token="2")
    assert [g.name for g in eci.gateway.describe(REGION, name="bb")] == ["bb"]


def test_throttling_that_clears_makes_one_change_with_one_token(eci):
    eci.backend.faults.throttle_count = 3
    gid = create(eci)
    attempts = [c for c in eci.backend.calls if c.action == "CreateContainerGroup"]
    assert [c.code for c in attempts] == ["Throttling.User"] * 3 + [None]
    assert {c.params["ClientToken"] for c in attempts} == {"tok-create"}
    assert len(eci.backend.mutating_calls()) == 1 and len(eci.backend.groups) == 1 and gid in eci.backend.groups
    assert len(eci.sleeps) == 3 and all(0 < s <= 0.05 for s in eci.sleeps)  # backoff, bounded


def test_throttling_that_never_clears_is_a_clear_bounded_error(eci):
    eci.backend.faults.throttle_share = 1.0
    with pytest.raises(RetryableEciError) as info:
        create(eci)
    assert info.value.code == "Throttling.User" and info.value.attempts == 5
    assert "CreateContainerGroup failed: Throttling.User" in str(info.value)
    assert len(eci.backend.calls) == 5 and eci.backend.groups == {}


def test_server_errors_are_retried(eci):
    eci.backend.faults.server_error_count = 2
    create(eci)
    assert [c.status for c in eci.backend.calls] == [503, 503, 200]


def test_update_in_a_forbidden_status_is_not_retried(eci):
    eci.backend.seed(
        [
            {
                "ContainerGroupId": "eci-x",
                "ContainerGroupName": "x",
                "RegionId": REGION,
                "Status": "Updating",
                "Containers": [{"Name": "app", "Image": "nginx:1"}],
            }
        ]
    )
    body = {
        "RegionId": REGION,
        "ContainerGroupId": "eci-x",
        "ClientToken": "t",
        "Container": [{"Name": "app", "Image": "nginx:2"}],
    }
    with pytest.raises(EciApiError) as info:
        eci.gateway.call("UpdateContainerGroup", body)
    assert info.value.code == "IncorrectStatus" and not info.value.retryable
    assert len(eci.backend.calls) == 1


def test_idempotent_parameter_mismatch(eci):
    first = create(eci)
    assert create(eci) == first  # same token, same parameters: the same group, no second one
    assert len(eci.backend.groups) == 1
    with pytest.raises(IdempotencyConflict) as info:
        create(eci, image="nginx:2")
    assert info.value.code == "IdempotentParameterMismatch" and info.value.request_id
    assert len([c for c in eci.backend.calls if c.code == "IdempotentParameterMismatch"]) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (create_body(name="Bad_Name"), "InvalidParameter.ContainerGroupName"),
        (create_body(tags={f"k{i}": "v" for i in range(21)}), "InvalidParameter.TagCount"),
        (create_body(tags={"acs:x": "v"}), "InvalidParameter.Tag"),
        ({**create_body(), "Container": None}, "MissingParameter.Container"),
    ],
)
def test_the_fake_validates_like_the_api(eci, body, code):
    with pytest.raises(EciApiError) as info:
        eci.gateway.call("CreateContainerGroup", body)
    assert info.value.code == code


def test_unknown_group(eci):
    with pytest.raises(EciApiError) as info:
        eci.gateway.call("RestartContainerGroup", {"RegionId": REGION, "ContainerGroupId": "eci-nope"})
    assert info.value.code == "InvalidContainerGroup.NotFound"


def test_lifecycle_and_pull_failures(eci):
    clock = [100.0]
    eci.backend.clock = lambda: clock[0]
    eci.backend.startup_seconds = 10
    eci.backend.faults.broken_images = ["*:broken"]
    good = create(eci, token="a")
    bad = create(eci, name="bad", image="nginx:broken", token="b")
    job = eci.gateway.call(
        "CreateContainerGroup", {**create_body(name="job", image="nginx:broken", token="c"), "RestartPolicy": "Never"}
    ).body["ContainerGroupId"]
    assert eci.backend.group(good).status == "Pending"
    clock[0] += 11
    (g_good,) = eci.gateway.describe(REGION, ids=[good])
    (g_bad,) = eci.gateway.describe(REGION, ids=[bad])
    (g_job,) = eci.gateway.describe(REGION, ids=[job])
    assert (g_good.status, g_good.containers[0].ready) == ("Running", True)
    # RestartPolicy Always: ECI keeps backing off the pull; the group never gets Ready
    assert (g_bad.status, g_bad.containers[0].ready) == ("Pending", False)
    assert any("Failed to pull image" in e["Message"] for e in g_bad.model_extra["Events"])
    assert g_job.status == "Failed"  # RestartPolicy Never gives up


def test_wrong_secret_is_refused_on_the_wire():
    from eci_redeploy.clients.eci import Credentials, EciGateway, RetryPolicy, sdk_client_factory
    from eci_redeploy.fake.server import FakeEciServer

    with FakeEciServer() as server:
        key, _ = server.credentials
        gateway = EciGateway(
            sdk_client_factory(Credentials(key, "wrong-secret"), server.url),
            retry=RetryPolicy(max_attempts=3, initial=0.01),
        )
        with pytest.raises(EciAuthError) as info:
            gateway.describe(REGION)
        assert info.value.code == "SignatureDoesNotMatch" and info.value.attempts == 1
        assert server.backend.calls == []  # refused before the backend
        # Like moto, an access key the fake does not know is accepted (its signature cannot be checked) ...
        assert EciGateway(sdk_client_factory(Credentials("nobody", "x"), server.url)).describe(REGION) == []
    # ... unless the fake is strict about credentials.
    with FakeEciServer(strict_credentials=True) as server:
        unknown = EciGateway(sdk_client_factory(Credentials("nobody", "x"), server.url))
        with pytest.raises(EciAuthError, match=r"InvalidAccessKeyId\.NotFound"):
            unknown.describe(REGION)
        assert server.backend.calls == []


def test_legacy_v2_signature_is_accepted_and_checked():
    from alibabacloud_eci20180808 import models
    from alibabacloud_eci20180808.client import Client
    from alibabacloud_tea_openapi import models as open_api_models
    from alibabacloud_tea_openapi.exceptions import ClientException

    from eci_redeploy.fake.server import FakeEciServer

    with FakeEciServer() as server:
        key, secret = server.credentials
        for given, ok in ((secret, True), ("bad", False)):
            client = Client(
                open_api_models.Config(
                    access_key_id=key,
                    access_key_secret=given,
                    region_id=REGION,
                    endpoint=server.endpoint,
                    protocol="http",
                    signature_algorithm="v2",
                )
            )
            request = models.DescribeContainerGroupsRequest(region_id=REGION)
            if ok:
                assert client.describe_container_groups(request).body.total_count == 0
            else:
                with pytest.raises(ClientException, match="SignatureDoesNotMatch"):
                    client.describe_container_groups(request)


def test_no_response_is_retried_then_reported():
    import socket

    from eci_redeploy.clients.eci import Credentials, EciGateway, RetryPolicy, sdk_client_factory

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    sleeps = []
    gateway = EciGateway(
        sdk_client_factory(Credentials("a", "b"), f"http://127.0.0.1:{port}"),
        retry=RetryPolicy(max_attempts=3, initial=0.01),
        sleep=sleeps.append,
    )
    with pytest.raises(RetryableEciError) as info:
        gateway.call("RestartContainerGroup", {"RegionId": REGION, "ContainerGroupId": "x", "ClientToken": "t"})
    assert info.value.code == "NoResponse" and info.value.attempts == 3 and len(sleeps) == 2


def test_calls_are_logged_as_json_lines_without_secrets(eci, capsys):
    body = create_body()
    body["ImageRegistryCredential"] = [{"Server": "r.io", "UserName": "u", "Password": "pl4nted-pw"}]
    eci.gateway.call("CreateContainerGroup", body, target="web-1")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    call = next(line for line in lines if line["kind"] == "eci.call")
    assert {"action", "target", "request_id", "attempt", "outcome"} <= set(call)
    assert call["action"] == "CreateContainerGroup" and call["outcome"] == "ok" and call["target"] == "web-1"
    assert "pl4nted-pw" not in json.dumps(lines)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("eci.cn-hangzhou.aliyuncs.com", "https")),
        ("127.0.0.1:8080", ("127.0.0.1:8080", "https")),
        ("http://127.0.0.1:8080/", ("127.0.0.1:8080", "http")),
        ("https://eci-vpc.cn-hangzhou.aliyuncs.com", ("eci-vpc.cn-hangzhou.aliyuncs.com", "https")),
    ],
)
def test_endpoint_setting(value, expected):
    from eci_redeploy.clients.eci import parse_endpoint

    assert parse_endpoint(value, REGION) == expected


def test_credentials_come_from_the_environment_or_the_context():
    from types import SimpleNamespace

    from eci_redeploy.clients.eci import Credentials
    from eci_redeploy.core.errors import ConfigError

    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "ak",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk",
        "ALIBABA_CLOUD_SECURITY_TOKEN": "st",
    }
    assert Credentials.from_env(env) == Credentials("ak", "sk", "st")
    ctx = SimpleNamespace(credentials=SimpleNamespace(access_key_id="a2", access_key_secret="s2", security_token="t2"))
    assert Credentials.from_env({}, ctx) == Credentials("a2", "s2", "t2")
    assert "s2" not in repr(Credentials.from_env({}, ctx))
    with pytest.raises(ConfigError, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        Credentials.from_env({})


def test_slow_responses_are_injected_and_still_succeed(eci):
    eci.backend.faults.delay_seconds = 0.2
    import time

    started = time.monotonic()
    create(eci)
    assert time.monotonic() - started >= 0.2
    assert len(eci.backend.mutating_calls()) == 1


def test_image_cache_lifecycle(eci):
    clock = [0.0]
    eci.backend.clock = lambda: clock[0]
    eci.backend.cache_seconds = 30
    eci.backend.faults.broken_images = ["*:bad"]
    body = {
        "RegionId": REGION,
        "ImageCacheName": "web-cache",
        "Image": ["nginx:1"],
        "ClientToken": "ic-1",
        "SecurityGroupId": "sg-1",
        "VSwitchId": "vsw-1",
    }
    good = eci.gateway.call("CreateImageCache", body).body["ImageCacheId"]
    bad_body = {**body, "Image": ["nginx:bad"], "ClientToken": "ic-2"}
    bad = eci.gateway.call("CreateImageCache", bad_body).body["ImageCacheId"]

    def status(cache_id):
        query = {"RegionId": REGION, "ImageCacheId": cache_id}
        (cache,) = eci.gateway.call("DescribeImageCaches", query).body["ImageCaches"]
        return cache["Status"]

    assert (status(good), status(bad)) == ("Creating", "Creating")
    clock[0] += 31
    assert (status(good), status(bad)) == ("Ready", "Failed")
    by_image = eci.gateway.call("DescribeImageCaches", {"RegionId": REGION, "Image": "nginx:1"}).body["ImageCaches"]
    assert [c["ImageCacheId"] for c in by_image] == [good]
    with pytest.raises(EciApiError, match=r"MissingParameter\.VSwitchId"):
        eci.gateway.call("CreateImageCache", {k: v for k, v in body.items() if k != "VSwitchId"})
