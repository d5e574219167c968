"""The fake against the API's documentation and the SDK's own models, not against its own output.

- every field of `alibabacloud_eci20180808.models.DescribeContainerGroupsResponseBody*` (read from the
  models' `to_map` and their type annotations) is present with the model's type, recursively;
- DescribeContainerGroups honours VSwitchId, SecurityGroupId, ZoneId, WithEvent, and refuses a bad NextToken;
- errors carry a unique RequestId, HostId, Code, Message and Recommend (the RPC error body);
- a replayed SignatureNonce and a stale timestamp are refused (SignatureNonceUsed, InvalidTimeStamp.Expired);
- the control API (issue 15 item 7): JSON only, no browser Origin, unknown keys 400, passwords masked;
- the in-process mode runs the SDK's signing and parsing (it is hooked at the SDK's transport).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from eci_redeploy.fake.describe import describe_group
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.fake.server import FakeEciServer
from sdk_shapes import check_shape

REGION = "cn-hangzhou"
KEY, SECRET = "fake-access-key-id", "fake-access-key-secret"


def tea_client(endpoint, secret=SECRET, algorithm=None):
    from alibabacloud_eci20180808.client import Client
    from alibabacloud_tea_openapi import models as open_api_models

    return Client(
        open_api_models.Config(
            access_key_id=KEY,
            access_key_secret=secret,
            region_id=REGION,
            endpoint=endpoint,
            protocol="http",
            signature_algorithm=algorithm,
        )
    )


# ---- every field of the SDK's response models (sdk_shapes.check_shape reads them) ----


def rich_group_request():
    """A create that fills every list the response models have, so their items are checked too."""
    from alibabacloud_eci20180808 import models as m

    probe = {
        "initial_delay_seconds": 5,
        "period_seconds": 10,
        "timeout_seconds": 2,
        "success_threshold": 1,
        "failure_threshold": 3,
    }
    container = m.CreateContainerGroupRequestContainer(
        name="app",
        image="nginx:1.25",
        cpu=1.0,
        memory=2.0,
        command=["nginx"],
        arg=["-g", "daemon off;"],
        working_dir="/srv",
        port=[m.CreateContainerGroupRequestContainerPort(port=80, protocol="TCP")],
        environment_var=[
            m.CreateContainerGroupRequestContainerEnvironmentVar(key="MODE", value="prod"),
            m.CreateContainerGroupRequestContainerEnvironmentVar(
                key="POD_IP",
                field_ref=m.CreateContainerGroupRequestContainerEnvironmentVarFieldRef(field_path="status.podIP"),
            ),
        ],
        volume_mount=[m.CreateContainerGroupRequestContainerVolumeMount(name="conf", mount_path="/etc/nginx")],
        readiness_probe=m.CreateContainerGroupRequestContainerReadinessProbe(
            http_get=m.CreateContainerGroupRequestContainerReadinessProbeHttpGet(path="/", port=80, scheme="HTTP"),
            exec=m.CreateContainerGroupRequestContainerReadinessProbeExec(command=["true"]),
            **probe,
        ),
        liveness_probe=m.CreateContainerGroupRequestContainerLivenessProbe(
            tcp_socket=m.CreateContainerGroupRequestContainerLivenessProbeTcpSocket(port=80),
            exec=m.CreateContainerGroupRequestContainerLivenessProbeExec(command=["true"]),
            **probe,
        ),
        security_context=m.CreateContainerGroupRequestContainerSecurityContext(
            read_only_root_filesystem=True,
            run_as_user=1000,
            capability=m.CreateContainerGroupRequestContainerSecurityContextCapability(add=["NET_ADMIN"]),
        ),
    )
    init = m.CreateContainerGroupRequestInitContainer(
        name="init",
        image="busybox:1",
        command=["sh"],
        arg=["-c", "true"],
        port=[m.CreateContainerGroupRequestInitContainerPort(port=9000, protocol="TCP")],
        environment_var=[m.CreateContainerGroupRequestInitContainerEnvironmentVar(key="A", value="1")],
        volume_mount=[m.CreateContainerGroupRequestInitContainerVolumeMount(name="conf", mount_path="/conf")],
    )
    return m.CreateContainerGroupRequest(
        region_id=REGION,
        container_group_name="rich",
        security_group_id="sg-rich",
        v_switch_id="vsw-rich",
        zone_id="cn-hangzhou-k",
        container=[container],
        init_container=[init],
        tag=[m.CreateContainerGroupRequestTag(key="app", value="rich")],
        volume=[
            m.CreateContainerGroupRequestVolume(
                name="conf",
                type="ConfigFileVolume",
                config_file_volume=m.CreateContainerGroupRequestVolumeConfigFileVolume(
                    config_file_to_path=[
                        m.CreateContainerGroupRequestVolumeConfigFileVolumeConfigFileToPath(
                            path="nginx.conf", content="ZXZlbnRzIHt9"
                        )
                    ]
                ),
            )
        ],
        host_aliase=[m.CreateContainerGroupRequestHostAliase(ip="10.0.0.9", hostname=["db.local"])],
        dns_config=m.CreateContainerGroupRequestDnsConfig(
            name_server=["10.0.0.2"],
            search=["svc.local"],
            option=[m.CreateContainerGroupRequestDnsConfigOption(name="ndots", value="2")],
        ),
        security_context=m.CreateContainerGroupRequestSecurityContext(
            sysctl=[m.CreateContainerGroupRequestSecurityContextSysctl(name="net.core.somaxconn", value="1024")]
        ),
    )


def test_every_field_of_the_sdk_models_is_present_with_its_type():
    from alibabacloud_eci20180808 import models as m

    with FakeEciServer() as server:
        client = tea_client(server.endpoint)
        gid = client.create_container_group(rich_group_request()).body.container_group_id
        client.restart_container_group(m.RestartContainerGroupRequest(region_id=REGION, container_group_id=gid))
        # the JSON on the wire, before the SDK's models drop or coerce anything
        url = f"{server.url}/_fake/groups"
        with urllib.request.urlopen(url, timeout=10) as answer:
            (group,) = json.loads(answer.read())["ContainerGroups"]
        body = client.describe_container_groups(m.DescribeContainerGroupsRequest(region_id=REGION)).body.to_map()
    assert body["ContainerGroups"][0]["ContainerGroupId"] == gid == group["ContainerGroupId"]
    problems: list[str] = []
    empty: list[str] = []
    check_shape(group, m.DescribeContainerGroupsResponseBodyContainerGroups, "group", problems, empty)
    check_shape({**body, "ContainerGroups": []}, m.DescribeContainerGroupsResponseBody, "body", problems)
    assert problems == []
    assert empty == []  # every list of models had items, so the item models were checked too
    # what code written against the real API reads (issue 16, item 7)
    assert group["IntranetIp"] and group["ZoneId"] == "cn-hangzhou-k" and group["InstanceType"]
    app = group["Containers"][0]
    assert app["RestartCount"] == 1 and app["CurrentState"]["StartTime"] and app["PreviousState"]["FinishTime"]
    assert all(e["Name"] for e in group["Events"])


def test_the_field_check_fails_on_a_missing_field():
    from alibabacloud_eci20180808 import models as m

    backend = FakeEci()
    backend.seed(
        [{"ContainerGroupId": "eci-1", "ContainerGroupName": "a", "Containers": [{"Name": "c", "Image": "i"}]}]
    )
    raw = describe_group(backend.group("eci-1"))
    del raw["Containers"][0]["CurrentState"]["StartTime"]
    raw["Cpu"] = "2"
    problems: list[str] = []
    check_shape(raw, m.DescribeContainerGroupsResponseBodyContainerGroups, "g", problems)
    assert problems == ["g.Containers[0].CurrentState.StartTime: missing", "g.Cpu: str, the model says float"]


# ---- DescribeContainerGroups filters and paging ----


def test_describe_filters_and_paging():
    from alibabacloud_eci20180808 import models as m
    from alibabacloud_tea_openapi.exceptions import ClientException

    with FakeEciServer() as server:
        client = tea_client(server.endpoint)
        for name, vsw, sg, zone in (
            ("ga", "vsw-1", "sg-1", "cn-hangzhou-h"),
            ("gb", "vsw-1", "sg-2", "cn-hangzhou-k"),
            ("gc", "vsw-2", "sg-1", "cn-hangzhou-k"),
        ):
            client.create_container_group(
                m.CreateContainerGroupRequest(
                    region_id=REGION,
                    container_group_name=name,
                    v_switch_id=vsw,
                    security_group_id=sg,
                    zone_id=zone,
                    container=[m.CreateContainerGroupRequestContainer(name="app", image="nginx:1")],
                )
            )

        def names(**filters):
            body = client.describe_container_groups(m.DescribeContainerGroupsRequest(region_id=REGION, **filters)).body
            return sorted(g.container_group_name for g in body.container_groups)

        assert names(v_switch_id="vsw-1") == ["ga", "gb"]
        assert names(security_group_id="sg-1") == ["ga", "gc"]
        assert names(zone_id="cn-hangzhou-k") == ["gb", "gc"]
        assert names(zone_id="cn-hangzhou-k", security_group_id="sg-1") == ["gc"]
        assert names(v_switch_id="vsw-none") == []

        def events(**flags):
            body = client.describe_container_groups(m.DescribeContainerGroupsRequest(region_id=REGION, **flags)).body
            return [len(g.events or []) for g in body.container_groups]

        assert all(events(with_event=True)) and not any(events(with_event=False))
        for bad in ("garbage", "999999", "1.0000"):
            with pytest.raises(ClientException) as info:
                client.describe_container_groups(m.DescribeContainerGroupsRequest(region_id=REGION, next_token=bad))
            assert (info.value.code, info.value.status_code) == ("InvalidParameter", 400)
            assert "NextToken" in info.value.data["Message"]


# ---- error bodies, replay and clock ----


def _raw(url, data=None, headers=None, method=None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def test_error_bodies_have_unique_request_ids_host_and_recommend():
    from alibabacloud_eci20180808 import models as m
    from alibabacloud_tea_openapi.exceptions import ClientException

    with FakeEciServer() as server:
        seen = set()
        for _ in range(3):
            with pytest.raises(ClientException) as info:
                tea_client(server.endpoint, secret="wrong").describe_container_groups(
                    m.DescribeContainerGroupsRequest(region_id=REGION)
                )
            data = info.value.data
            assert {"RequestId", "HostId", "Code", "Message", "Recommend"} <= set(data)
            assert data["Code"] in data["Recommend"] and data["RequestId"] in data["Recommend"]
            assert "server string to sign is:" in data["Message"]
            seen.add(data["RequestId"])
        assert len(seen) == 3 and "00000000-0000-0000-0000-000000000000" not in seen
        status, body = _raw(f"{server.url}/?Action=DescribeContainerGroups&Version=2018-08-08&RegionId={REGION}")
        assert (status, body["Code"]) == (400, "MissingParameter") and body["RequestId"]


def test_a_replayed_request_and_a_stale_one_are_refused():
    """The exact bytes the tea SDK sent, sent again: same SignatureNonce -> SignatureNonceUsed."""
    from alibabacloud_eci20180808 import models as m
    from darabonba.core import DaraCore

    sent = []
    original = DaraCore.do_action

    def record(request, runtime=None):
        sent.append((DaraCore.compose_url(request), dict(request.headers), request.method, request.body))
        return original(request, runtime)

    with FakeEciServer() as server:
        client = tea_client(server.endpoint)
        DaraCore.do_action = staticmethod(record)
        try:
            client.describe_container_groups(m.DescribeContainerGroupsRequest(region_id=REGION))
        finally:
            DaraCore.do_action = staticmethod(original)
        url, headers, method, body = sent[-1]
        status, answer = _raw(url, data=body or None, headers=headers, method=method)
        assert (status, answer["Code"]) == (400, "SignatureNonceUsed")
        assert len(server.backend.calls) == 1  # the replay never reached the backend

        server.wire.auth.wall = lambda: __import__("time").time() + 3600  # the fake's clock an hour ahead
        from alibabacloud_tea_openapi.exceptions import ClientException

        with pytest.raises(ClientException) as info:
            client.describe_container_groups(m.DescribeContainerGroupsRequest(region_id=REGION))
        assert (info.value.code, info.value.status_code) == ("InvalidTimeStamp.Expired", 400)


# ---- the control API (issue 15, item 7) ----


def test_control_api_refuses_browsers_non_json_and_unknown_keys():
    with FakeEciServer() as server:
        faults = f"{server.url}/_fake/faults"
        good = json.dumps({"throttle_count": 1}).encode()
        assert _raw(faults, good, {"Content-Type": "application/json"})[0] == 200
        assert server.backend.faults.throttle_count == 1
        # a page in a browser could POST a "simple" form or text body without a preflight
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            status, body = _raw(faults, good, {"Content-Type": content_type})
            assert status == 415 and "application/json" in body["Message"]
        status, body = _raw(faults, good, {"Content-Type": "application/json", "Origin": "https://evil.example"})
        assert status == 403
        assert _raw(f"{server.url}/_fake/calls", headers={"Origin": "http://localhost:3000"})[0] == 403
        status, body = _raw(faults, json.dumps({"throttle_shar": 0.5}).encode(), {"Content-Type": "application/json"})
        assert status == 400 and "throttle_shar" in body["Message"]
        status, body = _raw(faults, json.dumps({"actions": "Update"}).encode(), {"Content-Type": "application/json"})
        assert status == 400 and "actions" in body["Message"]
        assert _raw(faults, b"{not json", {"Content-Type": "application/json"})[0] == 400
        assert server.backend.faults.throttle_count == 1  # refused bodies changed nothing


@pytest.mark.parametrize(
    ("body", "key", "allowed"),
    [
        (b'{"throttle_share": 1e999}', "throttle_share", "0..1"),
        (b'{"throttle_share": -0.5}', "throttle_share", "0..1"),
        (b'{"throttle_share": NaN}', "throttle_share", "0..1"),
        (b'{"server_error_count": -5}', "server_error_count", "0.."),
        (b'{"throttle_count": -1}', "throttle_count", "0.."),
        (b'{"delay_seconds": 1e9}', "delay_seconds", "0..60"),
        (b'{"delay_seconds": Infinity}', "delay_seconds", "0..60"),
        (b'{"delay_seconds": -1}', "delay_seconds", "0..60"),
    ],
)
def test_control_api_refuses_out_of_range_faults(body, key, allowed):
    """Issue 16, item 3: these were answered 200 and stored (inf throttles everything, -5 is a no-op
    that looks configured, 1e9 s hangs every call)."""
    with FakeEciServer() as server:
        faults = f"{server.url}/_fake/faults"
        ok = json.dumps({"throttle_count": 2, "delay_seconds": 0.5}).encode()
        assert _raw(faults, ok, {"Content-Type": "application/json"})[0] == 200
        status, answer = _raw(faults, body, {"Content-Type": "application/json"})
        assert (status, answer["Code"]) == (400, "InvalidParameter")
        assert key in answer["Message"] and f"allowed: {allowed}" in answer["Message"].replace("an integer ", "")
        f = server.backend.faults  # a refused body changed nothing
        assert (f.throttle_share, f.throttle_count, f.server_error_count, f.delay_seconds) == (0.0, 2, 0, 0.5)


def test_control_api_masks_registry_passwords():
    from eci_redeploy.clients.eci import Credentials, EciGateway, sdk_client_factory

    with FakeEciServer() as server:
        gateway = EciGateway(sdk_client_factory(Credentials(KEY, SECRET), server.url))
        gateway.call(
            "CreateContainerGroup",
            {
                "RegionId": REGION,
                "ContainerGroupName": "private",
                "Container": [{"Name": "app", "Image": "reg.example.com/app:1"}],
                "ImageRegistryCredential": [{"Server": "reg.example.com", "UserName": "ci", "Password": "pl4nted-pw"}],
            },
        )
        status, calls = _raw(f"{server.url}/_fake/calls")
    assert status == 200 and "pl4nted-pw" not in json.dumps(calls)
    assert calls[0]["params"]["ImageRegistryCredential.1.Password"] == "******"
    assert calls[0]["params"]["ImageRegistryCredential.1.UserName"] == "ci"


# ---- in-process: the SDK's own code path minus the socket ----


def test_inprocess_mode_runs_the_sdks_signing_and_parsing():
    from alibabacloud_eci20180808 import models as m
    from alibabacloud_tea_openapi.exceptions import ClientException

    from eci_redeploy.fake.inprocess import inprocess_factory

    backend = FakeEci()
    client = inprocess_factory(backend)(REGION)
    assert type(client).__module__ == "alibabacloud_eci20180808.client"  # the real SDK client
    gid = client.create_container_group(rich_group_request()).body.container_group_id
    body = client.describe_container_groups(m.DescribeContainerGroupsRequest(region_id=REGION)).body
    assert isinstance(body, m.DescribeContainerGroupsResponseBody)  # parsed by the SDK
    assert body.container_groups[0].containers[0].ports[0].port == 80
    assert backend.calls[0].params["Container.1.Port.1.Port"] == "80"  # serialised by the SDK
    wrong = inprocess_factory(backend, access_key=(KEY, "wrong-secret"))(REGION)
    with pytest.raises(ClientException) as info:  # signed by the SDK, checked by the fake
        wrong.restart_container_group(m.RestartContainerGroupRequest(region_id=REGION, container_group_id=gid))
    assert info.value.code == "SignatureDoesNotMatch"
    v2 = inprocess_factory(backend, signature_algorithm="v2")(REGION)
    assert v2.describe_container_groups(m.DescribeContainerGroupsRequest(region_id=REGION)).body.total_count == 1


@pytest.mark.parametrize(
    "key",
    [
        "AcrRegistryInfo.1Domain.1",  # aliyun-python-sdk-eci 1.3.3's setter
        "Container..Name",
        "Tag.0.Key",  # lists are 1-based
        "1.Name",
        "Container.1.Na-me",
        "Container.01.Name",
    ],
)
def test_malformed_flattened_keys_are_invalid_parameters(key):
    from eci_redeploy.fake.exceptions import ApiError
    from eci_redeploy.fake.responses import check_flattened

    with pytest.raises(ApiError) as info:
        check_flattened({"RegionId": REGION, key: "x"})
    assert (info.value.status, info.value.code) == (400, "InvalidParameter") and key in info.value.message


@pytest.mark.parametrize(
    "params",
    [
        {"Container.1.Name": "a", "Container.Name": "b"},  # Container both a list and an object
        {"Tag": "x", "Tag.1.Key": "k"},  # Tag both a value and a list
        {"Tag.1.Key": "k", "Tag": "x"},
    ],
)
def test_one_key_cannot_be_two_shapes(params):
    from eci_redeploy.fake.exceptions import ApiError
    from eci_redeploy.fake.responses import check_flattened

    with pytest.raises(ApiError, match="InvalidParameter"):
        check_flattened(params)


def test_well_formed_keys_pass():
    from eci_redeploy.fake.responses import check_flattened

    check_flattened(
        {
            "RegionId": REGION,
            "Container.1.Name": "app",
            "Container.1.Port.1.Port": "80",
            "Container.10.EnvironmentVar.2.FieldRef.FieldPath": "status.podIP",
            "AcrRegistryInfo.1.Domain.1": "x-registry.cn-hangzhou.cr.aliyuncs.com",
            "ContainerGroupIds": '["eci-1"]',
        }
    )


def test_inprocess_mode_serves_the_sdks_async_methods():
    import asyncio

    from alibabacloud_eci20180808 import models as m

    from eci_redeploy.fake.inprocess import inprocess_factory

    backend = FakeEci()
    client = inprocess_factory(backend)(REGION)
    gid = asyncio.run(client.create_container_group_async(rich_group_request())).body.container_group_id
    body = asyncio.run(client.describe_container_groups_async(m.DescribeContainerGroupsRequest(region_id=REGION))).body
    assert [g.container_group_id for g in body.container_groups] == [gid]
