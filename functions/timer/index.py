"""Function Compute entry point: the scheduled reconcile (timer trigger)."""

from pathlib import Path

from eci_redeploy.functions.entry import tick


def handler(event, context):
    return tick(event, context, default_rules=Path(__file__).with_name("rules.yaml"))
