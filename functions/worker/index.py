"""Function Compute entry point: applies the work the webhook function hands off (async)."""

from pathlib import Path

from eci_redeploy.functions.entry import work


def handler(event, context):
    return work(event, context, default_rules=Path(__file__).with_name("rules.yaml"))
