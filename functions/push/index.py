"""Function Compute entry point: ACR Enterprise Edition push events from EventBridge (async)."""

from pathlib import Path

from eci_redeploy.functions.entry import push


def handler(event, context):
    return push(event, context, default_rules=Path(__file__).with_name("rules.yaml"))
