import base64
import json

import pytest

from eci_redeploy.core.errors import EventError
from eci_redeploy.events.adapters import parse_payload
from eci_redeploy.events.model import IgnoredEvent, PushEvent, TimerTick

from helpers import EVENTS


def load(name):
    return (EVENTS / name).read_bytes()


def test_acr_ee_push():
    (e,) = parse_payload(load("acr-ee-push.json"))
    assert isinstance(e, PushEvent)
    assert (e.repository, e.tag, e.instance_id, e.instance_name, e.region) == (
        "team/web",
        "1.4.0",
        "cri-abc123",
        "acme",
        "cn-hangzhou",
    )
    assert e.digest.startswith("sha256:3c0b") and e.signed
    assert e.time.isoformat() == "2026-11-27T10:15:30.123000+08:00"


def test_acr_ee_keys_in_any_case_and_missing_digest():
    raw = json.loads(load("acr-ee-push.json"))
    raw["data"] = {"instanceId": "cri-x", "REPONAMESPACENAME": "team", "repoName": "web", "tag": "2", "Extra": 1}
    (e,) = parse_payload(json.dumps(raw))
    assert (e.instance_id, e.repository, e.tag, e.digest) == ("cri-x", "team/web", "2", None)


def test_acr_ee_batch_array():
    raw = json.loads(load("acr-ee-push.json"))
    other = json.loads(load("acr-ee-build-completed.json"))
    out = parse_payload(json.dumps([raw, other]))
    assert [type(x) for x in out] == [PushEvent, IgnoredEvent]


@pytest.mark.parametrize(
    "kind",
    [
        "cr:Artifact:BuildCompleted",
        "cr:Artifact:ScanCompleted",
        "cr:Artifact:SigningCompleted",
        "cr:Artifact:SynchronizationCompleted",
        "cr:Artifact:DeliveryChainCompleted",
        "cr:ActionTrail:ApiCall",
    ],
)
def test_other_acr_types_are_ignored_with_a_reason(kind):
    raw = json.loads(load("acr-ee-push.json"))
    raw["type"] = kind
    (e,) = parse_payload(json.dumps(raw))
    assert isinstance(e, IgnoredEvent) and kind in e.reason


def test_acr_webhook():
    (e,) = parse_payload(load("acr-webhook.json"))
    assert (e.repository, e.tag, e.region, e.instance_id, e.signed) == ("team/api", "2.3.1", "cn-hangzhou", None, False)
    assert e.time.isoformat() == "2026-11-27T10:20:46+08:00"
    again = parse_payload(load("acr-webhook.json"))[0]
    assert again.event_id == e.event_id  # a redelivery is the same event


def test_fc_http_wrapped_and_base64():
    (e,) = parse_payload(load("fc-http-acr-webhook.json"))
    assert e.repository == "team/api"
    raw = json.loads(load("fc-http-acr-webhook.json"))
    raw["body"] = base64.b64encode(raw["body"].encode()).decode()
    raw["isBase64Encoded"] = True
    assert parse_payload(json.dumps(raw))[0] == e


def test_distribution_only_manifest_pushes():
    blob, manifest = parse_payload(load("distribution-push.json"))
    assert isinstance(blob, IgnoredEvent) and "not a manifest" in blob.reason
    assert isinstance(manifest, PushEvent)
    assert (manifest.registry_host, manifest.repository, manifest.tag) == ("10.0.0.5:5000", "team/web", "1.4.0")
    assert manifest.time.year == 2026


def test_harbor_dockerhub_generic():
    (h,) = parse_payload(load("harbor-push.json"))
    assert (h.registry_host, h.repository, h.tag) == ("harbor.example.com", "team/web", "1.4.0")
    (d,) = parse_payload(load("dockerhub-push.json"))
    assert (d.registry_host, d.repository, d.tag, d.digest) == ("docker.io", "acme/web", "1.4.0", None)
    (g,) = parse_payload(load("generic-ci.json"))
    assert g.registry_host == "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com" and g.digest.startswith("sha256:3c0b")


def test_timer():
    (t,) = parse_payload(load("timer.json"))
    assert isinstance(t, TimerTick) and t.trigger_name == "reconcile-timer"


BAD = [
    (b"", "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[]", "empty array"),
    (b"42", "expected a JSON object"),
    (b'{"hello": 1}', "unknown event format"),
    (b'{"specversion": "1.0", "source": "acs.cr", "type": "cr:Artifact:PushCompleted"}', "id"),
    (b'{"id": "1", "specversion": "1.0", "source": "acs.cr", "type": "cr:Artifact:PushCompleted", "data": 5}', "data"),
    (
        b'{"id": "1", "specversion": "1.0", "source": "acs.cr", "type": "cr:Artifact:PushCompleted", '
        b'"data": {"RepoName": "web"}}',
        "RepoNamespaceName",
    ),
    (
        b'{"id": "1", "specversion": "1.0", "source": "acs.cr", "type": "cr:Artifact:PushCompleted", '
        b'"data": {"RepoNamespaceName": "t", "RepoName": "w", "Tag": "bad tag"}}',
        "not a valid tag",
    ),
    # (an ACR webhook with a malformed digest is no longer an error: issue 14 item 3, test_payload_corpus.py)
    (b'{"push_data": {}, "repository": {"namespace": "b"}}', "repository.name"),
    (
        b'{"events": [{"id": "1", "action": "push", "target": {"mediaType": '
        b'"application/vnd.oci.image.manifest.v1+json", "tag": "1"}}]}',
        "target.repository",
    ),
    (b'{"image": "Bad/Image"}', "lowercase"),
    (b'{"image": "a/b@sha256:' + b"1" * 64 + b'", "digest": "sha256:' + b"2" * 64 + b'"}', "differ"),
    (b'{"version": "v1", "rawPath": "/", "requestContext": {}, "isBase64Encoded": true, "body": "***"}', "base64"),
    (b"[" * 100000, "nested too deeply"),
    (b" " * (9 * 1024 * 1024), "limit"),
]


@pytest.mark.parametrize(("payload", "fragment"), BAD)
def test_bad_payloads_raise_clear_errors(payload, fragment):
    with pytest.raises(EventError) as info:
        parse_payload(payload, source="e.json")
    assert fragment in str(info.value)
    assert str(info.value).startswith("e.json: ")  # the file is named


def test_github_npm_package_published_is_not_a_container():
    """octokit/webhooks payload-examples/api.github.com/package/published.npm.payload.json (commit 417035e):
    package_type "npm" beside ecosystem "docker" and registry.type "npm" (fields as published, the rest
    trimmed). An npm package is not an image: ignored with that reason, whatever `ecosystem` says."""
    raw = {
        "action": "published",
        "package": {
            "id": 10696,
            "name": "hello-world-npm",
            "ecosystem": "docker",
            "package_type": "npm",
            "package_version": {
                "id": 24147,
                "version": "1.0.0",
                "name": "sha256:3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498",
                "tag_name": "1.0.0",
                "source_url": "ghcr.io/Codertocat/hello-world-npm/image-1:v1",
            },
            "registry": {"name": "GitHub npm registry", "type": "npm", "url": "https://npm.pkg.github.com/@Codertocat"},
        },
        "repository": {"full_name": "Codertocat/hello-world-npm"},
    }
    (item,) = parse_payload(json.dumps(raw).encode(), source="fuzz")
    assert isinstance(item, IgnoredEvent) and item.reason == "package_type npm is not a container"
