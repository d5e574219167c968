"""Image-cache pre-warming on the wire: ready, slow, failed, and reuse of a cache that holds the image."""

import pytest

from eci_redeploy.clients.eci import RetryPolicy
from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.executor import Executor
from eci_redeploy.execution.rollout import Clock
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.server import FakeEciServer
from eci_redeploy.pipeline import run

from helpers import rule

HOST = "reg.example.com"
DIGEST = "sha256:" + "7" * 64
TEMPLATE = {
    "ContainerGroupName": "job",
    "SecurityGroupId": "sg-t",
    "VSwitchId": "vsw-t,vsw-u",
    "Container": [{"Name": "app", "Image": f"{HOST}/team/web:1"}],
}


@pytest.fixture
def world():
    server = FakeEciServer().start()
    now = [0.0]
    server.backend.clock = lambda: now[0]
    clock = Clock(sleep=lambda s: now.__setitem__(0, now[0] + s), now=lambda: now[0])
    gateway = gateway_for(server, retry=RetryPolicy(max_attempts=2, initial=0.001))
    yield server.backend, gateway, clock
    server.stop()


def create_rules(make_rules, **prewarm):
    return make_rules(
        {
            **rule(
                "web",
                action="create",
                template="t.yaml",
                pull={
                    "public": [HOST],
                    "plain_http": [HOST],
                    "prewarm": {"timeout_seconds": 60, "poll_seconds": 5, **prewarm},
                },
            ),
            "rollout": {"poll_seconds": 1},
        },
        templates={"t.yaml": TEMPLATE},
    )


def push():
    return [PushEvent("team/web", "1.1.0", DIGEST, "distribution", "ev-1", registry_host=HOST)]


def test_ready_cache_is_created_waited_for_and_used(world, make_rules):
    backend, gateway, clock = world
    backend.cache_seconds = 20
    report = run(
        push(), create_rules(make_rules, size_gb=40, retention_days=7), gateway, {}, executor=Executor(clock=clock)
    )
    (cache_call,) = backend.mutating_calls("CreateImageCache")
    assert cache_call.params["Image.1"] == f"{HOST}/team/web@{DIGEST}"
    assert cache_call.params["SecurityGroupId"] == "sg-t" and cache_call.params["VSwitchId"] == "vsw-t"
    assert cache_call.params["PlainHttpRegistry"] == HOST  # pulled the same way the group will
    assert cache_call.params["ImageCacheSize"] == "40" and cache_call.params["RetentionDays"] == "7"
    (create,) = backend.mutating_calls("CreateContainerGroup")
    cache = next(iter(backend.image_caches.values()))
    assert create.params["ImageSnapshotId"] == cache["SnapshotId"]
    assert "AutoMatchImageCache" not in create.params
    assert report.outcomes[0].status == "applied"
    assert any("image cache" in n and ": ready" in n for n in report.outcomes[0].step.notes)


def test_slow_cache_deploys_without_it_and_says_so(world, make_rules):
    backend, gateway, clock = world
    backend.cache_seconds = 600
    report = run(push(), create_rules(make_rules), gateway, {}, executor=Executor(clock=clock))
    (create,) = backend.mutating_calls("CreateContainerGroup")
    assert "ImageSnapshotId" not in create.params and create.params["AutoMatchImageCache"] == "True"
    assert any(": timeout" in n and "deployed without it" in n for n in report.outcomes[0].step.notes)


def test_failed_cache_deploys_without_it_and_says_why(world, make_rules):
    backend, gateway, clock = world
    backend.faults.broken_images = [f"*{DIGEST}"]
    backend.cache_seconds = 10
    report = run(push(), create_rules(make_rules), gateway, {}, executor=Executor(clock=clock))
    note = next(n for n in report.outcomes[0].step.notes if "image cache" in n)
    assert ": failed" in note and "Failed to pull image" in note
    assert len(backend.mutating_calls("CreateContainerGroup")) == 1


def test_a_cache_that_holds_the_image_is_reused(world, make_rules):
    backend, gateway, clock = world
    run(push(), create_rules(make_rules), gateway, {}, executor=Executor(clock=clock))
    for group in list(backend.groups):
        del backend.groups[group]  # the job finished and was cleaned up
    report = run(
        [PushEvent("team/web", "1.1.0", DIGEST, "distribution", "ev-2", registry_host=HOST)],
        create_rules(make_rules),
        gateway,
        {},
        executor=Executor(clock=clock),
    )
    assert len(backend.mutating_calls("CreateImageCache")) == 1
    assert any(": reused" in n for n in report.outcomes[0].step.notes)


def test_updates_warm_the_cache_but_cannot_name_it(world, make_rules):
    backend, gateway, clock = world
    backend.seed(
        [
            {
                "ContainerGroupId": "eci-1",
                "ContainerGroupName": "web",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "SecurityGroupId": "sg-g",
                "VSwitchId": "vsw-g",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "app", "Image": f"{HOST}/team/web:1"}],
            }
        ]
    )
    rules = make_rules(
        {**rule("web", pull={"public": [HOST], "prewarm": {"poll_seconds": 1}}), "rollout": {"poll_seconds": 1}}
    )
    report = run(push(), rules, gateway, {}, executor=Executor(clock=clock))
    (cache_call,) = backend.mutating_calls("CreateImageCache")
    assert (cache_call.params["SecurityGroupId"], cache_call.params["VSwitchId"]) == ("sg-g", "vsw-g")
    (update,) = backend.mutating_calls("UpdateContainerGroup")
    assert "ImageSnapshotId" not in update.params
    assert any("cannot name a cache" in n for n in report.outcomes[0].step.notes)


def test_a_cache_for_a_registry_with_credentials_is_built_with_them(world, make_rules):
    """The image cache pulls as the group will: the rule's ImageRegistryCredential (its password a
    Secret until the SDK sends it) goes into CreateImageCache too."""
    backend, gateway, clock = world
    rules = make_rules(
        {
            **rule(
                "web",
                action="create",
                template="t.yaml",
                pull={
                    "credentials": [{"server": HOST, "username": "ci", "password_env": "REG_PW"}],
                    "prewarm": {"timeout_seconds": 60, "poll_seconds": 5},
                },
            ),
            "rollout": {"poll_seconds": 1},
        },
        templates={"t.yaml": TEMPLATE},
    )
    report = run(push(), rules, gateway, {"REG_PW": "pw-123"}, executor=Executor(clock=clock))
    (cache_call,) = backend.mutating_calls("CreateImageCache")
    assert cache_call.params["ImageRegistryCredential.1.Password"] == "pw-123"
    assert report.outcomes[0].status == "applied"
