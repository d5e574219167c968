"""End to end on this machine: Debian's docker-registry notifies `eci-redeploy serve` of a push
(skopeo copies an OCI layout the test writes), and the container group in the fake ECI ends up on
that image by digest, through the real SDK over HTTP."""

import time

import pytest

from eci_redeploy.fake.server import FakeEciServer
from registry_tools import Registry, free_port, push, serve_live, write_layout

TOKEN = "e2e-webhook-token"


@pytest.fixture
def stack(tmp_path):
    """fake ECI (in this process) <- serve --live (subprocess) <- docker-registry (subprocess)."""
    registry_port = free_port()
    registry_host = f"127.0.0.1:{registry_port}"
    (tmp_path / "rules.yaml").write_text(f"""
version: 1
rules:
  - name: web
    source: {{repository: team/web, registry: "{registry_host}", tags: {{semver: "^1.0.0"}}}}
    target: {{region: cn-hangzhou, action: update, container_groups: {{tags: {{app: web}}}}}}
    pull: {{plain_http: ["{registry_host}"]}}
  - name: jobs
    source: {{repository: team/job, registry: "{registry_host}", tags: {{glob: "*"}}}}
    target: {{region: cn-hangzhou, action: create, template: job.yaml}}
    pull: {{plain_http: ["{registry_host}"], image_cache: "off"}}
""")
    (tmp_path / "job.yaml").write_text(f"""
ContainerGroupName: nightly-job
SecurityGroupId: sg-test
VSwitchId: vsw-test
RestartPolicy: Never
Container:
  - {{Name: job, Image: "{registry_host}/team/job:0", Cpu: 0.5, Memory: 1}}
""")
    fake = FakeEciServer().start()
    fake.backend.seed(
        [
            {
                "ContainerGroupId": "eci-web-1",
                "ContainerGroupName": "web-1",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "app", "Image": f"{registry_host}/team/web:1.0.0"}],
            }
        ]
    )
    serve_port = free_port()
    registry = Registry(
        tmp_path / "registry", notify_url=f"http://127.0.0.1:{serve_port}/", notify_token=TOKEN, port=registry_port
    )
    with serve_live(tmp_path / "rules.yaml", serve_port, fake, TOKEN, tmp_path / "serve.log"):
        yield registry, fake, tmp_path, serve_port
    fake.stop()


def _until(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_registry_push_updates_and_creates(stack):
    registry, fake, tmp_path, _ = stack
    with registry:
        digest = write_layout(tmp_path / "web", "1.4.0", "web 1.4.0")
        push(tmp_path / "web", "1.4.0", f"{registry.host}/team/web:1.4.0")
        want = f"{registry.host}/team/web@{digest}"
        got = _until(lambda: fake.backend.group("eci-web-1").spec["Container"][0]["Image"] == want)
        log = (tmp_path / "serve.log").read_text()
        assert got, f"group still on {fake.backend.group('eci-web-1').spec['Container'][0]['Image']}\n{log}"
        updates = fake.backend.mutating_calls("UpdateContainerGroup")
        assert len(updates) == 1 and "PlainHttpRegistry" not in updates[0].params

        job_digest = write_layout(tmp_path / "job", "2024.11", "job")
        push(tmp_path / "job", "2024.11", f"{registry.host}/team/job:2024.11")
        creates = _until(lambda: fake.backend.mutating_calls("CreateContainerGroup"))
        assert creates, (tmp_path / "serve.log").read_text()
        params = creates[0].params
        assert params["PlainHttpRegistry"] == registry.host
        assert params["Container.1.Image"] == f"{registry.host}/team/job@{job_digest}"
        assert params["ContainerGroupName"] == "nightly-job"
        (group,) = [g for g in fake.backend.groups.values() if g.name == "nightly-job"]
        assert group.status == "Running"
        # Redeliveries of the same notifications change nothing more.
        time.sleep(1.0)
        assert len(fake.backend.mutating_calls()) == 2
        assert TOKEN not in (tmp_path / "serve.log").read_text()
        assert "fake-access-key-secret" not in (tmp_path / "serve.log").read_text()
