"""Every payload of tests/payloads/ (as the registries publish them; sources in SOURCES.md), end to end:
through `eci-redeploy plan`, the webhook function (FC HTTP event -> plan -> worker -> the fake ECI)
and `eci-redeploy serve` over real HTTP with the registry's Content-Type. Each row says what the
registry's payload means: format, repository, tag, digest, and the planned action with its image, or
the exact reason it was ignored."""

from __future__ import annotations

import json

import pytest

from eci_redeploy.cli import main
from fcfixtures import TOKEN, fc_context, http_event

from helpers import ROOT

CORPUS = ROOT / "tests" / "payloads"
RULES = CORPUS / "rules.yaml"
STATE = CORPUS / "state.json"
HARBOR_DIGEST = "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c"
DEBIAN_DIGEST = "sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8"
CE = "application/cloudevents+json"  # what Harbor's CloudEvents and CDEvents formatters set
DIST = "application/vnd.docker.distribution.events.v1+json"

# file, Content-Type the registry sends, (format, repository, tag, digest) of the push or None,
# expected: ("update", group, image) | ("ignored", exact reason in the plan's skipped list)
CASES = [
    (
        "harbor-default-push.json",
        "application/json",
        ("harbor", "test-webhook/debian", "latest", DEBIAN_DIGEST),
        ("update", "eci-debian", f"hub.harbor.com/test-webhook/debian@{DEBIAN_DIGEST}"),
    ),
    (
        "harbor-cloudevents-push.json",
        CE,
        ("harbor", "library/busybox", "v1.0", HARBOR_DIGEST),
        ("update", "eci-busybox", f"harbor.dev/library/busybox@{HARBOR_DIGEST}"),
    ),
    (
        "harbor-cdevents-doc.json",
        CE,
        ("harbor", "library/busybox", "v1.0", HARBOR_DIGEST),
        ("update", "eci-busybox", f"harbor.dev/library/busybox@{HARBOR_DIGEST}"),
    ),
    (
        "harbor-cdevents-published.json",
        CE,
        ("harbor", "library/busybox", "v1.0", HARBOR_DIGEST),
        ("update", "eci-busybox", f"harbor.dev/library/busybox@{HARBOR_DIGEST}"),
    ),
    (
        "harbor-cloudevents-pull.json",
        CE,
        None,
        (
            "ignored",
            "harbor event 4b2f89a6-548d-4c12-9993-a1f5790b97d2 ignored: event type harbor.artifact.pulled "
            "from /projects/1/webhook/policies/3 is not a push",
        ),
    ),
    (
        "distribution-envelope-doc.json",
        DIST,
        (
            "distribution",
            "library/test",
            None,
            "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
        ),
        # The documented envelope pushes the manifest by digest only: a tag rule has nothing to follow.
        ("ignored", "the event carries no tag"),
    ),
    (
        "distribution-pull-doc.json",
        DIST,
        None,
        ("ignored", "distribution event 320678d8-ca14-430f-8bb6-4ca139cd83f7 ignored: action pull is not a push"),
    ),
    (
        "dockerhub-current.json",
        "application/json",
        ("dockerhub", "svendowideit/testhook", "latest", None),
        ("update", "eci-testhook", "svendowideit/testhook:latest"),
    ),
    (
        "dockerhub-legacy.json",
        "application/json",
        ("dockerhub", "svendowideit/testhook", "latest", None),
        ("update", "eci-testhook", "svendowideit/testhook:latest"),
    ),
    (
        "dockerhub-legacy-automated-build.json",
        "application/json",
        ("dockerhub", "svendowideit/testhook", None, None),
        ("ignored", "the event carries no tag"),
    ),
    (
        "acr-webhook-doc.json",
        "application/json",
        (
            "acr-webhook",
            "namespace/repotest",
            "latest",
            "sha256:457f4aa83fc9a6663ab9d1b0a6e2dce25a12a943ed5bf2c1747c58d48bbb4917",
        ),
        (
            "update",
            "eci-repotest",
            "registry-vpc.cn-hangzhou.aliyuncs.com/namespace/repotest@"
            "sha256:457f4aa83fc9a6663ab9d1b0a6e2dce25a12a943ed5bf2c1747c58d48bbb4917",
        ),
    ),
    (
        "acr-ee-build-completed-doc.json",
        "application/json",
        None,
        (
            "ignored",
            "acr-eventbridge event 45ef4dewdwe1-7c35-447a-bd93-fab**** ignored: event type "
            "cr:Artifact:BuildCompleted is not a push (cr:Artifact:PushCompleted)",
        ),
    ),
    (
        "quay-repo-push.json",
        "application/json",
        ("quay", "dgangaia/test", "latest", None),
        ("update", "eci-quay-test", "quay.io/dgangaia/test:latest"),
    ),
    (
        "quay-repo-push-legacy.json",
        "application/json",
        ("quay", "devtable/ubuntu", "latest", None),
        ("update", "eci-quay-ubuntu", "quay.io/devtable/ubuntu:latest"),
    ),
    (
        "github-registry-package-published.json",
        "application/json",
        None,
        (
            "ignored",
            "github event github-57755791 ignored: ghcr.io/codertocat/hello-world: the published version has "
            "no tag, and its digest 'sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b' is not a sha256 digest "
            "(64 lowercase hex)",
        ),
    ),
    (
        # GitHub Packages' original Docker registry (issue 28): the tag is package_version.version, no
        # container_metadata, the image docker.pkg.github.com/<owner>/<repo>/<name> (Keel's fixture)
        "github-docker-pkg-keel.json",
        "application/json",
        ("github", "dingggu/utaitebox/server", "1.2.3", None),
        ("update", "eci-utaitebox", "docker.pkg.github.com/dingggu/utaitebox/server:1.2.3"),
    ),
]
IDS = [c[0] for c in CASES]


def test_every_payload_of_the_corpus_is_in_the_table():
    on_disk = {p.name for p in CORPUS.glob("*.json")} - {"state.json"}
    assert on_disk == set(IDS)
    sources = (CORPUS / "SOURCES.md").read_text()
    assert all(f"`{name}`" in sources for name in IDS)  # each one cites where it comes from


def run_plan(capsys, name):
    code = main(["plan", str(CORPUS / name), "--rules", str(RULES), "--state", str(STATE)])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


@pytest.mark.parametrize(("name", "content_type", "push", "expected"), CASES, ids=IDS)
def test_plan(capsys, name, content_type, push, expected):
    plan = run_plan(capsys, name)
    pushes = [e for e in plan["events"] if "repository" in e]
    if push is None:
        assert pushes == []
    else:
        assert [(e["source"], e["repository"], e["tag"], e["digest"]) for e in pushes] == [push]
    kind = expected[0]
    if kind == "update":
        _, group, image = expected
        (action,) = plan["actions"]
        assert (action["action"], action["target"]) == ("UpdateContainerGroup", group)
        assert action["params"]["ContainerGroupId"] == group
        assert action["params"]["Container.1.Name"] == "app"
        assert action["params"]["Container.1.Image"] == image
        assert action["params"]["UpdateType"] == "IncrementalUpdate"
    else:
        assert plan["actions"] == []
        assert expected[1] in [s["reason"] for s in plan["skipped"]]


def for_the_push_function(name: str) -> bool:
    """ACR EE events arrive through EventBridge (trusted by the platform): the token-only webhook refuses
    them rather than trust them as if EventBridge had delivered them (see test_hostile_input, item 5)."""
    raw = json.loads((CORPUS / name).read_text())
    return isinstance(raw, dict) and raw.get("source") == "acs.cr"


@pytest.mark.parametrize(("name", "content_type", "push", "expected"), CASES, ids=IDS)
def test_webhook_function(fc, monkeypatch, name, content_type, push, expected):
    from eci_redeploy.functions import webhook

    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(RULES))
    fc.backend.seed(json.loads(STATE.read_text())["ContainerGroups"])
    event = http_event((CORPUS / name).read_bytes(), headers={"Content-Type": content_type}, query={"token": TOKEN})
    response = webhook.handle(event, fc_context(), default_rules=RULES)
    body = json.loads(response["body"])
    if for_the_push_function(name):
        assert response["statusCode"] == 400, body
        assert "send them to the push function" in body["error"] and fc.backend.calls == []
        return
    if expected[0] == "update":
        _, group, image = expected
        assert response["statusCode"] == 202, body
        assert [(a["action"], a["target"]) for a in body["actions"]] == [("UpdateContainerGroup", group)]
        (call,) = fc.mutations()
        assert (call.action, call.params["ContainerGroupId"], call.params["Container.1.Image"]) == (
            "UpdateContainerGroup",
            group,
            image,
        )
    else:
        assert response["statusCode"] == 200, body
        assert expected[1] in [s["reason"] for s in body["skipped"]]
        assert fc.mutations() == []
    assert body["events"]  # every event of the delivery is named in the reply


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """`eci-redeploy serve` over real HTTP, on the corpus rules and state (embedded fake ECI)."""
    import subprocess
    import sys

    from registry_tools import free_port

    from helpers import clean_env, wait_for_url

    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    env = clean_env(ECI_REDEPLOY_WEBHOOK_TOKEN=TOKEN, ECI_REDEPLOY_CONFIRM_DIGESTS="0", PYTHONPATH=str(ROOT / "shared"))
    command = [sys.executable, "-m", "eci_redeploy.cli", "serve", "--port", str(port), "--rules", str(RULES)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*command, "--state", str(STATE)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_for_url(f"http://127.0.0.1:{port}/healthz")
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.mark.parametrize(("name", "content_type", "push", "expected"), CASES, ids=IDS)
def test_serve_over_http(serve, name, content_type, push, expected):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{serve}/?token={TOKEN}&dry_run=1",
        data=(CORPUS / name).read_bytes(),
        headers={"Content-Type": content_type},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        status, body = exc.code, json.loads(exc.read())
    if for_the_push_function(name):
        assert status == 400 and "send them to the push function" in body["error"], body
        return
    assert status == 200, body  # a dry run: the plan, nothing applied
    if expected[0] == "update":
        _, group, image = expected
        assert [(a["action"], a["target"], a["image"]) for a in body["actions"]] == [
            ("UpdateContainerGroup", group, image)
        ]
    else:
        assert body["actions"] == []
        assert expected[1] in [s["reason"] for s in body["skipped"]]
