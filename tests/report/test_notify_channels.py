"""Notification channels are a registry (issue 27 item 5, keel's extension/notification): a new channel
is one file with a registered sender; report/notify.send finds it without changing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from eci_redeploy.report import notify
from eci_redeploy.report.channels import SENDERS, base, kind_of, register
from eci_redeploy.rules.model import Channel


@pytest.fixture
def feishu():
    """A channel the product does not have, registered the way channels/*.py register theirs."""

    @register("feishu")
    def feishu_request(config, message, env):
        return env[config.url_env], message.text().encode(), {"Content-Type": "application/json"}

    yield
    del SENDERS["feishu"]


def test_the_three_channels_are_registered_by_their_rules_keys():
    assert list(SENDERS) == ["dingtalk", "slack", "webhook"]
    # Each rules key of Channel has a sender, and each sender a rules key.
    assert set(SENDERS) == set(Channel.model_fields)
    assert kind_of(Channel.model_validate({"slack": {"url_env": "SLACK_URL"}})) == "slack"


def test_a_registered_channel_is_sent_by_notify_without_touching_it(feishu):
    channel = SimpleNamespace(dingtalk=None, slack=None, webhook=None, feishu=SimpleNamespace(url_env="FEISHU_URL"))
    rules = SimpleNamespace(channels=lambda rule: [channel])
    posted = []
    message = notify.Message("web", "deployed", "reg.example.com/team/web:1.2.3")
    delivered = notify.send(
        [message], rules, {"FEISHU_URL": "http://127.0.0.1:9/feishu"}, post=lambda *a: posted.append(a) or 200
    )
    assert delivered == 1
    assert posted == [("http://127.0.0.1:9/feishu", message.text().encode(), {"Content-Type": "application/json"})]


def test_a_key_registered_twice_is_refused(feishu):
    with pytest.raises(ValueError, match="'feishu' registered twice"):
        base.register("feishu")(lambda config, message, env: None)
