"""Function Compute entry point: ACR Enterprise Edition push events from EventBridge (async)."""

from pathlib import Path

from eci_redeploy.handlers.events import handle_push


def handler(event, context):
    return handle_push(event, context, default_rules=Path(__file__).with_name("rules.yaml"))
