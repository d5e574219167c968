"""The observed container is the whole container (issue 30 item 4): every field of the SDK's describe
models is in `ObservedContainer`, the fake keeps every field a create or a state file gives it, and a
described container goes back into the request form exactly as the SDK's UpdateContainerGroup models
serialise it (alibabacloud-eci20180808: `DescribeContainerGroupsResponseBodyContainerGroupsContainers`,
`...InitContainers`, `UpdateContainerGroupRequestContainer`, `...InitContainer`)."""

from __future__ import annotations

import json
import types
import typing
import urllib.request

import pytest
from alibabacloud_eci20180808 import models as m
from alibabacloud_openapi_util.client import Client as OpenApiUtil
from pydantic import BaseModel

from eci_redeploy.clients.eci_model import ContainerGroup, ObservedContainer, dump_groups, load_state
from eci_redeploy.clients.eci_spec import CONTAINER_KEYS, container_spec, field_path
from eci_redeploy.clients.eci_wire import flatten
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.server import FakeEciServer, seeded_backend
from full_spec import APP, INIT, SIDECAR, create_body
from sdk_shapes import check_shape, is_model, model_fields

STATUS_ONLY = {"Ready", "RestartCount", "CurrentState", "PreviousState"}


def _unwrap(annotation):
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation)
    return annotation


def _names(ours) -> dict[str, typing.Any]:
    """{wire name: annotation} of a pydantic model (its aliases) or a TypedDict (its keys)."""
    if isinstance(ours, type) and issubclass(ours, BaseModel):
        return {info.alias: info.annotation for info in ours.model_fields.values()}
    return typing.get_type_hints(ours)


def missing_aliases(sdk_model, ours, path: str) -> list[str]:
    """Wire names of the SDK model (recursively) that our model has no field for."""
    names = _names(ours)
    out = []
    for wire, (_, annotation) in model_fields(sdk_model).items():
        if wire not in names:
            out.append(f"{path}.{wire}")
            continue
        inner = _unwrap(annotation)
        if is_model(inner):
            out.extend(missing_aliases(inner, _unwrap(names[wire]), f"{path}.{wire}"))
    return out


@pytest.mark.parametrize(
    "sdk_model",
    [
        m.DescribeContainerGroupsResponseBodyContainerGroupsContainers,
        m.DescribeContainerGroupsResponseBodyContainerGroupsInitContainers,
    ],
)
def test_the_observed_container_has_every_field_of_the_sdk_describe_model(sdk_model):
    assert missing_aliases(sdk_model, ObservedContainer, "Container") == []


def test_the_group_reads_its_restart_policy():
    assert "RestartPolicy" in model_fields(m.DescribeContainerGroupsResponseBodyContainerGroups)
    group = ContainerGroup.model_validate({"ContainerGroupId": "eci-1", "RestartPolicy": "Never"})
    assert group.restart_policy == "Never"


@pytest.mark.parametrize(
    ("section", "spec", "sdk_model"),
    [
        ("Container", APP, m.UpdateContainerGroupRequestContainer),
        ("Container", SIDECAR, m.UpdateContainerGroupRequestContainer),
        ("InitContainer", INIT, m.UpdateContainerGroupRequestInitContainer),
    ],
)
def test_every_key_of_a_full_spec_exists_in_the_sdk_update_model(section, spec, sdk_model):
    """from_map drops what the model does not know: what survives to_map is what goes on the wire."""
    body = {"RegionId": "cn-hangzhou", "ContainerGroupId": "eci-1", section: [spec]}
    request = m.UpdateContainerGroupRequest().from_map(body)
    assert OpenApiUtil.query(request.to_map()) == flatten(body)
    assert set(CONTAINER_KEYS) <= set(model_fields(m.UpdateContainerGroupRequestContainer))
    assert set(spec) <= set(model_fields(sdk_model))


def _created(eci):
    result = eci.gateway.call("CreateContainerGroup", create_body())
    gid = result.body["ContainerGroupId"]
    eci.backend.settle()
    (group,) = eci.gateway.describe("cn-hangzhou", ids=[gid])
    return group


def test_a_created_group_reads_back_as_the_request_that_created_it(eci):
    """Create (SDK) -> fake -> DescribeContainerGroups (SDK) -> ObservedContainer -> request form: the
    same containers as were sent."""
    group = _created(eci)
    assert [container_spec(c, init=False) for c in group.containers] == [APP, SIDECAR]
    assert [container_spec(c, init=True) for c in group.init_containers] == [INIT]
    app = group.containers[0]
    assert field_path(app.environment_vars[2]) == "status.podIP" and app.readiness_probe["HttpGet"]["Port"] == 8080
    assert group.restart_policy == "Always"


def test_a_state_file_round_trips_every_container_field(eci, tmp_path):
    """What `fake-eci --state` does with a file: load_state -> dump_groups -> seed; then the describe on
    the wire gives back every field the file held."""
    group = _created(eci)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(dump_groups([group])))
    with FakeEciServer(seeded_backend(dump_groups(load_state(state))["ContainerGroups"])) as server:
        (again,) = gateway_for(server).describe("cn-hangzhou", ids=[group.id])
        with urllib.request.urlopen(f"{server.url}/_fake/groups", timeout=10) as answer:
            (raw,) = json.loads(answer.read())["ContainerGroups"]  # the JSON before the SDK reads it
    problems: list[str] = []
    check_shape(raw, m.DescribeContainerGroupsResponseBodyContainerGroups, "group", problems)
    assert problems == []

    def spec(g):
        return [c.model_dump(by_alias=True, exclude=STATUS_ONLY) for c in g.containers + g.init_containers]

    assert spec(again) == spec(group)
    assert again.restart_policy == "Always"
    assert [container_spec(c, init=False) for c in again.containers] == [APP, SIDECAR]
