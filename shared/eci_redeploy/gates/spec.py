"""The gates' rules-file section lives in `gatespec.py`, beside rules.py (which imports it on every
cold start), so that rules.py does not depend on the gates package, which depends on rules.py."""

from ..gatespec import SEVERITIES, ApprovalGate, Gates, ScanGate, WindowGate, parse_duration, zone

__all__ = ["SEVERITIES", "ApprovalGate", "Gates", "ScanGate", "WindowGate", "parse_duration", "zone"]
