"""Function Compute entry point: registry and CI webhooks over the HTTP trigger."""

from pathlib import Path

from eci_redeploy.functions.entry import webhook


def handler(event, context):
    return webhook(event, context, default_rules=Path(__file__).with_name("rules.yaml"))
