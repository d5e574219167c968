"""`fake-eci` with three official clients nobody here wrote, over real HTTP:

- the tea Python SDK (`alibabacloud-eci20180808`), both signature styles;
- the legacy RPC SDK (`aliyun-python-sdk-core` + `aliyun-python-sdk-eci`, HMAC-SHA1), GET with the
  parameters in the query and POST with them in a form body;
- the Node SDK (`@alicloud/eci20180808` + `@alicloud/openapi-client`, pinned in tests/node/), both
  signature styles, through tests/node/eci_client.js.

Each goes through create, ClientToken replay and mismatch, describe with filters and paging, update,
restart while updating (IncorrectStatus, HTTP 400 as the API documents), delete, a wrong secret and
an unknown access key. Expectations come from the clients' own behaviour (what their exceptions carry)
and the API reference, never from the fake's output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from eci_redeploy.fake.models import FakeEci
from eci_redeploy.fake.server import FakeEciServer

from helpers import ROOT

REGION = "cn-hangzhou"
NODE_DIR = ROOT / "tests" / "node"
KEY, SECRET = "fake-access-key-id", "fake-access-key-secret"


@pytest.fixture
def server():
    # Updates take a while, so a restart right after one meets an Updating group.
    with FakeEciServer(FakeEci(update_seconds=60)) as srv:
        yield srv


# ---- tea SDK ----


def tea_client(server, secret=SECRET, key=KEY, algorithm=None):
    from alibabacloud_eci20180808.client import Client
    from alibabacloud_tea_openapi import models as open_api_models

    return Client(
        open_api_models.Config(
            access_key_id=key,
            access_key_secret=secret,
            region_id=REGION,
            endpoint=server.endpoint,
            protocol="http",
            signature_algorithm=algorithm,
        )
    )


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["acs3", "v2"])
def test_tea_sdk_full_cycle(server, algorithm):
    from alibabacloud_eci20180808 import models
    from alibabacloud_tea_openapi.exceptions import ClientException

    client = tea_client(server, algorithm=algorithm)

    def create(name, token):
        return client.create_container_group(
            models.CreateContainerGroupRequest(
                region_id=REGION,
                container_group_name=name,
                security_group_id="sg-tea",
                v_switch_id="vsw-tea" if name != "other-net" else "vsw-other",
                client_token=token,
                container=[models.CreateContainerGroupRequestContainer(name="app", image="nginx:1.25")],
            )
        ).body.container_group_id

    gid = create("tea-web", "tok-1")
    assert create("tea-web", "tok-1") == gid  # replay: same group, nothing new
    with pytest.raises(ClientException) as info:
        create("tea-else", "tok-1")
    assert (info.value.code, info.value.status_code) == ("IdempotentParameterMismatch", 400)
    pages = [create(f"tea-page-{i}", f"page-{i}") for i in range(3)]
    create("other-net", "other")
    client.restart_container_group(models.RestartContainerGroupRequest(region_id=REGION, container_group_id=pages[0]))
    (restarted,) = client.describe_container_groups(
        models.DescribeContainerGroupsRequest(region_id=REGION, container_group_ids=json.dumps([pages[0]]))
    ).body.container_groups
    assert (restarted.status, restarted.containers[0].restart_count) == ("Restarting", 1)

    seen, token = [], None
    while True:
        page = client.describe_container_groups(
            models.DescribeContainerGroupsRequest(region_id=REGION, v_switch_id="vsw-tea", limit=2, next_token=token)
        ).body
        assert page.total_count == 4
        seen += [g.container_group_name for g in page.container_groups]
        token = page.next_token
        if not token:
            break
    assert sorted(seen) == ["tea-page-0", "tea-page-1", "tea-page-2", "tea-web"]

    client.update_container_group(
        models.UpdateContainerGroupRequest(
            region_id=REGION,
            container_group_id=gid,
            update_type="IncrementalUpdate",
            client_token="u-1",
            container=[models.UpdateContainerGroupRequestContainer(name="app", image="nginx:1.26")],
        )
    )
    with pytest.raises(ClientException) as info:
        client.restart_container_group(models.RestartContainerGroupRequest(region_id=REGION, container_group_id=gid))
    assert (info.value.code, info.value.status_code) == ("IncorrectStatus", 400)
    (group,) = client.describe_container_groups(
        models.DescribeContainerGroupsRequest(region_id=REGION, container_group_ids=json.dumps([gid]))
    ).body.container_groups
    assert (group.status, group.containers[0].image) == ("Updating", "nginx:1.26")
    client.delete_container_group(models.DeleteContainerGroupRequest(region_id=REGION, container_group_id=gid))
    with pytest.raises(ClientException) as info:
        client.delete_container_group(models.DeleteContainerGroupRequest(region_id=REGION, container_group_id=gid))
    assert info.value.code == "InvalidContainerGroup.NotFound"

    with pytest.raises(ClientException) as info:
        tea_client(server, secret="wrong", algorithm=algorithm).describe_container_groups(
            models.DescribeContainerGroupsRequest(region_id=REGION)
        )
    assert info.value.code == "SignatureDoesNotMatch"
    # Any other access key is accepted, like moto: the fake cannot know its secret.
    body = tea_client(server, key="AKIDsomeoneelse", secret="x", algorithm=algorithm).describe_container_groups(
        models.DescribeContainerGroupsRequest(region_id=REGION)
    )
    assert body.body.total_count == 4


# ---- legacy RPC SDK (aliyun-python-sdk-core) ----


def legacy_client(secret=SECRET, key=KEY):
    from aliyunsdkcore.client import AcsClient

    return AcsClient(key, secret, REGION, auto_retry=False, max_retry_time=0)


def legacy_call(server, request, *, post=False, secret=SECRET, key=KEY):
    request.set_endpoint(server.endpoint)
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    if post:  # as CommonRequest users do: the parameters in an application/x-www-form-urlencoded body
        request.set_method("POST")
        request.set_body_params(dict(request.get_query_params()))
        request.set_query_params({})
    return json.loads(legacy_client(secret, key).do_action_with_exception(request))


@pytest.mark.parametrize("post", [False, True], ids=["get-query", "post-form"])
def test_legacy_sdk_full_cycle(server, post):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkeci.request.v20180808 import (
        CreateContainerGroupRequest,
        DeleteContainerGroupRequest,
        DescribeContainerGroupsRequest,
        RestartContainerGroupRequest,
        UpdateContainerGroupRequest,
    )

    def create(name, token):
        request = CreateContainerGroupRequest.CreateContainerGroupRequest()
        request.set_ContainerGroupName(name)
        request.set_SecurityGroupId("sg-legacy")
        request.set_VSwitchId("vsw-legacy")
        request.set_ClientToken(token)
        request.set_Containers([{"Name": "app", "Image": "nginx:1.25"}])
        request.set_Tags([{"Key": "app", "Value": "legacy"}])
        return legacy_call(server, request, post=post)["ContainerGroupId"]

    gid = create("legacy-web", "l-1")
    assert create("legacy-web", "l-1") == gid
    with pytest.raises(ServerException) as info:
        create("legacy-else", "l-1")
    assert (info.value.get_error_code(), info.value.get_http_status()) == ("IdempotentParameterMismatch", 400)
    pages = [create(f"legacy-page-{i}", f"lp-{i}") for i in range(2)]
    restart_page = RestartContainerGroupRequest.RestartContainerGroupRequest()
    restart_page.set_ContainerGroupId(pages[0])
    assert legacy_call(server, restart_page, post=post)["RequestId"]
    assert server.backend.group(pages[0]).restart_count == 1

    describe = DescribeContainerGroupsRequest.DescribeContainerGroupsRequest()
    describe.set_Tags([{"Key": "app", "Value": "legacy"}])
    describe.set_Limit(2)
    first = legacy_call(server, describe, post=post)
    assert first["TotalCount"] == 3 and len(first["ContainerGroups"]) == 2 and first["NextToken"]
    rest = DescribeContainerGroupsRequest.DescribeContainerGroupsRequest()
    rest.set_Tags([{"Key": "app", "Value": "legacy"}])
    rest.set_Limit(2)
    rest.set_NextToken(first["NextToken"])
    assert len(legacy_call(server, rest, post=post)["ContainerGroups"]) == 1

    update = UpdateContainerGroupRequest.UpdateContainerGroupRequest()
    update.set_ContainerGroupId(gid)
    update.add_query_param("UpdateType", "IncrementalUpdate")  # no setter in aliyun-python-sdk-eci 1.3.3
    update.set_Containers([{"Name": "app", "Image": "nginx:1.26"}])
    legacy_call(server, update, post=post)
    restart = RestartContainerGroupRequest.RestartContainerGroupRequest()
    restart.set_ContainerGroupId(gid)
    with pytest.raises(ServerException) as info:
        legacy_call(server, restart, post=post)
    assert (info.value.get_error_code(), info.value.get_http_status()) == ("IncorrectStatus", 400)
    assert server.backend.group(gid).images() == ["nginx:1.26"]
    delete = DeleteContainerGroupRequest.DeleteContainerGroupRequest()
    delete.set_ContainerGroupId(gid)
    legacy_call(server, delete, post=post)
    assert gid not in server.backend.groups


@pytest.mark.parametrize("post", [False, True], ids=["get-query", "post-form"])
def test_legacy_sdk_recognises_a_wrong_secret(server, post):
    """The legacy SDK compares our `server string to sign is:<string>` with its own string to sign and,
    when they match, reports InvalidAccessKeySecret (aliyunsdkcore/client.py); without that text it
    crashed with IndexError."""
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkeci.request.v20180808 import DescribeContainerGroupsRequest

    with pytest.raises(ServerException) as info:
        legacy_call(server, DescribeContainerGroupsRequest.DescribeContainerGroupsRequest(), post=post, secret="wrong")
    assert info.value.get_error_code() == "InvalidAccessKeySecret"
    assert info.value.get_http_status() == 400 and info.value.get_request_id()


def test_legacy_sdk_malformed_key_is_refused_not_stored(server):
    """aliyun-python-sdk-eci 1.3.3's set_AcrRegistryInfos writes `AcrRegistryInfo.1Domain.1` (no dot):
    the API refuses such a key; the fake used to store a dict where a list belongs."""
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkeci.request.v20180808 import CreateContainerGroupRequest

    request = CreateContainerGroupRequest.CreateContainerGroupRequest()
    request.set_ContainerGroupName("acr-web")
    request.set_Containers([{"Name": "app", "Image": "x-registry.cn-hangzhou.cr.aliyuncs.com/team/web:1"}])
    request.set_AcrRegistryInfos([{"InstanceId": "cri-1", "Domains": ["x-registry.cn-hangzhou.cr.aliyuncs.com"]}])
    assert "AcrRegistryInfo.1Domain.1" in request.get_query_params()  # the SDK's bug, as shipped
    with pytest.raises(ServerException) as info:
        legacy_call(server, request)
    assert info.value.get_error_code() == "InvalidParameter" and "AcrRegistryInfo.1Domain.1" in info.value.message
    assert server.backend.groups == {} and server.backend.mutating_calls() == []


# ---- numeric parameters (issue 16): InvalidParameter naming the parameter, never a 500 or a default ----

ERROR_SHAPE = {"RequestId", "HostId", "Code", "Message", "Recommend"}


@pytest.mark.parametrize("limit", ["abc", "1.5"])
def test_tea_sdk_non_integer_limit_is_invalid_parameter(server, limit):
    """The old fake answered Werkzeug's HTML 500 page (int() in models.py); the API answers JSON 400."""
    from alibabacloud_eci20180808 import models
    from alibabacloud_tea_openapi.exceptions import ClientException

    with pytest.raises(ClientException) as info:
        tea_client(server).describe_container_groups(
            models.DescribeContainerGroupsRequest(region_id=REGION, limit=limit)
        )
    assert (info.value.code, info.value.status_code) == ("InvalidParameter", 400)
    assert set(info.value.data) >= ERROR_SHAPE and "Limit" in info.value.message


@pytest.mark.parametrize(
    "key",
    [
        "Cpu",
        "Memory",
        "Container.1.Cpu",
        "Container.1.Port.1.Port",
        "InitContainer.1.Memory",
        "Container.1.LivenessProbe.PeriodSeconds",
        "ActiveDeadlineSeconds",
        "EphemeralStorage",
    ],
)
@pytest.mark.parametrize("post", [False, True], ids=["get-query", "post-form"])
def test_legacy_sdk_non_numeric_create_parameter_is_refused(server, key, post):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkeci.request.v20180808 import CreateContainerGroupRequest

    request = CreateContainerGroupRequest.CreateContainerGroupRequest()
    request.set_ContainerGroupName("typed-web")
    request.set_Containers([{"Name": "app", "Image": "nginx:1.25"}])
    if key.startswith("InitContainer."):
        request.add_query_param("InitContainer.1.Name", "init")
        request.add_query_param("InitContainer.1.Image", "busybox:1")
    request.add_query_param(key, "abc")
    with pytest.raises(ServerException) as info:
        legacy_call(server, request, post=post)
    assert (info.value.get_error_code(), info.value.get_http_status()) == ("InvalidParameter", 400)
    assert key in info.value.message and info.value.get_request_id()
    assert server.backend.groups == {} and server.backend.mutating_calls() == []


def test_tea_sdk_non_numeric_cpu_is_refused_by_create_and_update(server):
    from alibabacloud_eci20180808 import models
    from alibabacloud_tea_openapi.exceptions import ClientException

    client = tea_client(server)
    container = [models.CreateContainerGroupRequestContainer(name="app", image="nginx:1.25")]
    with pytest.raises(ClientException) as info:
        client.create_container_group(
            models.CreateContainerGroupRequest(
                region_id=REGION, container_group_name="typed-tea", cpu="abc", container=container
            )
        )
    assert (info.value.code, info.value.status_code) == ("InvalidParameter", 400)
    assert set(info.value.data) >= ERROR_SHAPE and "Cpu" in info.value.message
    assert server.backend.groups == {}
    gid = client.create_container_group(
        models.CreateContainerGroupRequest(
            region_id=REGION, container_group_name="typed-tea", cpu=2.0, memory=4.0, container=container
        )
    ).body.container_group_id
    with pytest.raises(ClientException) as info:
        client.update_container_group(
            models.UpdateContainerGroupRequest(region_id=REGION, container_group_id=gid, cpu="abc")
        )
    assert (info.value.code, info.value.status_code) == ("InvalidParameter", 400)
    assert "Cpu" in info.value.message
    server.backend.settle()
    assert server.backend.group(gid).spec["Cpu"] == "2.0"  # the refused update changed nothing
    assert [c.action for c in server.backend.mutating_calls()] == ["CreateContainerGroup"]


def test_legacy_sdk_unknown_key_accepted_unless_strict():
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkeci.request.v20180808 import DescribeContainerGroupsRequest

    with FakeEciServer() as srv:
        request = DescribeContainerGroupsRequest.DescribeContainerGroupsRequest()
        assert legacy_call(srv, request, key="LTAIsomeone", secret="s")["TotalCount"] == 0
    with FakeEciServer(strict_credentials=True, credentials={"LTAIknown": "known-secret"}) as srv:
        request = DescribeContainerGroupsRequest.DescribeContainerGroupsRequest()
        assert legacy_call(srv, request, key="LTAIknown", secret="known-secret")["TotalCount"] == 0
        with pytest.raises(ServerException) as info:
            legacy_call(srv, DescribeContainerGroupsRequest.DescribeContainerGroupsRequest(), key="LTAIsomeone")
        assert (info.value.get_error_code(), info.value.get_http_status()) == ("InvalidAccessKeyId.NotFound", 404)


def test_legacy_sdk_stale_timestamp_is_refused(server, monkeypatch):
    """The legacy signer takes its Timestamp from parameter_helper.get_iso_8061_date: a 2019 clock."""
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.utils import parameter_helper
    from aliyunsdkeci.request.v20180808 import DescribeContainerGroupsRequest

    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: "2019-03-01T10:00:00Z")
    with pytest.raises(ServerException) as info:
        legacy_call(server, DescribeContainerGroupsRequest.DescribeContainerGroupsRequest())
    assert (info.value.get_error_code(), info.value.get_http_status()) == ("InvalidTimeStamp.Expired", 400)
    assert server.backend.calls == []


# ---- Node SDK ----


def _node() -> str | None:
    node = shutil.which("node")
    if node and (NODE_DIR / "node_modules" / "@alicloud" / "eci20180808").is_dir():
        return node
    if os.environ.get("CI"):
        pytest.fail("CI: node and tests/node/node_modules are required (.ci/install-system-deps installs them)")
    if not node:
        pytest.skip("node is not installed here: the Node SDK part needs /usr/bin/node (CI installs it)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, capture_output=True)
    return node


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["acs3", "v2"])
def test_node_sdk_full_cycle(server, algorithm):
    node = _node()
    args = {
        "endpoint": server.endpoint,
        "accessKeyId": KEY,
        "accessKeySecret": SECRET,
        "signatureAlgorithm": algorithm,
        "wrongSecret": "wrong",
    }
    run = subprocess.run(
        [node, str(NODE_DIR / "eci_client.js"), json.dumps(args)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    gid = out["create"]["data"]["ContainerGroupId"]
    assert out["replay"]["ok"] and out["replay"]["data"]["ContainerGroupId"] == gid
    assert (out["mismatch"]["code"], out["mismatch"]["statusCode"]) == ("IdempotentParameterMismatch", 400)
    first, second = out["filtered"]["data"], out["page2"]["data"]
    assert first["TotalCount"] == 4 and len(first["ContainerGroups"]) == 2 and first["NextToken"]
    assert len(second["ContainerGroups"]) == 2 and not second["NextToken"]
    names = {g["ContainerGroupName"] for g in first["ContainerGroups"] + second["ContainerGroups"]}
    assert names == {"node-web", "node-page-0", "node-page-1", "node-page-2"}
    assert (out["badToken"]["code"], out["badToken"]["statusCode"]) == ("InvalidParameter", 400)
    assert out["restart"]["ok"] and out["update"]["ok"]
    assert (out["restartWhileUpdating"]["code"], out["restartWhileUpdating"]["statusCode"]) == ("IncorrectStatus", 400)
    (after,) = out["afterUpdate"]["data"]["ContainerGroups"]
    assert after["Containers"][0]["Image"] == "nginx:1.26" and after["Containers"][0]["Ports"][0]["Port"] == 80
    assert out["delete"]["ok"] and gid not in server.backend.groups
    wrong = out["wrongSecret"]
    assert (wrong["code"], wrong["statusCode"]) == ("SignatureDoesNotMatch", 400)
    assert {"RequestId", "HostId", "Code", "Message", "Recommend"} <= set(wrong["data"])
    assert out["unknownKey"]["ok"] and out["unknownKey"]["data"]["TotalCount"] == 3  # node-web was deleted
    restarts = [c for c in server.backend.calls if c.action == "RestartContainerGroup"]
    assert [c.status for c in restarts] == [200, 400]


def test_fake_eci_command_with_access_keys_and_strict_credentials():
    """`eci-redeploy fake-eci --access-key ID:SECRET --strict-credentials` as a user starts it."""
    import sys

    from alibabacloud_eci20180808 import models
    from alibabacloud_tea_openapi.exceptions import ClientException

    from registry_tools import free_port

    from helpers import clean_env, wait_for_url

    port = free_port()
    command = [sys.executable, "-m", "eci_redeploy.cli", "fake-eci", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--access-key", "LTAIteam:team-secret", "--strict-credentials"],
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        wait_for_url(f"http://127.0.0.1:{port}/_fake/calls")

        class Endpoint:
            endpoint = f"127.0.0.1:{port}"

        request = models.DescribeContainerGroupsRequest(region_id=REGION)
        assert tea_client(Endpoint, key="LTAIteam", secret="team-secret").describe_container_groups(request).body
        assert tea_client(Endpoint).describe_container_groups(request).body  # the default pair stays known
        for key, secret, code in (
            ("LTAIteam", "wrong", "SignatureDoesNotMatch"),
            ("LTAIother", "x", "InvalidAccessKeyId.NotFound"),
        ):
            with pytest.raises(ClientException) as info:
                tea_client(Endpoint, key=key, secret=secret).describe_container_groups(request)
            assert info.value.code == code
    finally:
        proc.terminate()
        proc.wait(10)
    bad = subprocess.run([*command, "--access-key", "no-colon"], capture_output=True, text=True, env=clean_env())
    assert bad.returncode == 2 and "--access-key takes ID:SECRET" in bad.stderr and "Traceback" not in bad.stderr
