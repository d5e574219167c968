"""A credential planted in the rules' environment never appears in any output, log line, plan or report."""

import json
import subprocess
import sys

from fcfixtures import TOKEN, fc_context, http_event, signed_headers

from helpers import ROOT, clean_env

PLANTED = "PL4NTED-s3cret-9f8e7d"
WEBHOOK_TOKEN_LEAK = TOKEN


def write(tmp_path):
    (tmp_path / "rules.yaml").write_text("""
version: 1
rules:
  - name: web
    source: {repository: team/web, tags: {glob: "*"}}
    target: {region: cn-hangzhou, action: update, container_groups: {name: web}}
    pull:
      credentials: [{server: reg.example.com, username: ci, password_env: REG_PASSWORD}]
  - name: job
    source: {repository: team/web, tags: {glob: "*"}}
    target: {region: cn-hangzhou, action: create, template: job.yaml}
    pull:
      credentials: [{server: reg.example.com, username: ci, password_env: REG_PASSWORD}]
""")
    (tmp_path / "job.yaml").write_text(
        "ContainerGroupName: job\nContainer: [{Name: app, Image: reg.example.com/team/web:1}]\n"
    )
    (tmp_path / "state.json").write_text(
        json.dumps(
            {
                "ContainerGroups": [
                    {
                        "ContainerGroupId": "eci-1",
                        "ContainerGroupName": "web",
                        "RegionId": "cn-hangzhou",
                        "Status": "Running",
                        "Containers": [{"Name": "app", "Image": "reg.example.com/team/web:1"}],
                    }
                ]
            }
        )
    )
    (tmp_path / "event.json").write_text(
        json.dumps({"image": "reg.example.com/team/web:2", "digest": "sha256:" + "c" * 64})
    )


def cli(*args, env):
    base = clean_env()
    return subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**base, **env},
        timeout=120,
    )


def test_cli_outputs_and_logs_never_show_the_planted_credential(tmp_path):
    write(tmp_path)
    env = {"REG_PASSWORD": PLANTED}
    r, s, e = str(tmp_path / "rules.yaml"), str(tmp_path / "state.json"), str(tmp_path / "event.json")
    runs = [
        cli("plan", e, "--rules", r, "--state", s, env=env),
        cli("invoke", e, "--rules", r, "--state", s, env=env),
        cli("invoke", e, "--rules", r, "--state", s, "--dry-run", env=env),
        cli(
            "invoke",
            e,
            "--rules",
            r,
            "--state",
            s,
            "--live",
            env={
                **env,
                "ALIBABA_CLOUD_ACCESS_KEY_ID": "a",
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": PLANTED,
                "ECI_REDEPLOY_ECI_ENDPOINT": "http://127.0.0.1:9",
                "ECI_REDEPLOY_RETRY_MAX_ATTEMPTS": "2",
            },
        ),
    ]
    assert runs[1].returncode == 0, runs[1].stderr
    assert json.loads(runs[1].stdout)["actions"][0]["status"] == "applied"  # the credential was really used
    for out in runs:
        assert PLANTED not in out.stdout and PLANTED not in out.stderr
    assert "******" in runs[0].stdout


def test_handlers_responses_and_logs_never_show_secrets(fc, tmp_path, monkeypatch, capsys, caplog):
    from eci_redeploy.functions import webhook

    write(tmp_path)
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(tmp_path / "rules.yaml"))
    monkeypatch.setenv("REG_PASSWORD", PLANTED)
    fc.backend.seed(json.loads((tmp_path / "state.json").read_text())["ContainerGroups"])
    body = (tmp_path / "event.json").read_bytes()
    responses = [
        webhook.handle(http_event(body, headers=signed_headers(body)), fc_context(), default_rules=tmp_path),
        webhook.handle(http_event(body, query={"token": TOKEN, "dry_run": "1"}), fc_context(), default_rules=tmp_path),
        webhook.handle(http_event(b"{bad", query={"token": TOKEN}), fc_context(), default_rules=tmp_path),
    ]
    assert responses[0]["statusCode"] == 202
    calls = fc.mutations()
    assert calls and calls[0].params["ImageRegistryCredential.1.Password"] == PLANTED  # only ECI gets it
    captured = capsys.readouterr()
    everything = json.dumps(responses) + captured.out + captured.err + caplog.text
    assert PLANTED not in everything
    assert TOKEN not in everything  # nor the webhook token
