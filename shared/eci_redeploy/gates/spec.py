"""The gates' rules-file section lives in `rules/gates.py`, beside the rules model (which imports it on
every cold start), so that `rules/` does not depend on the gates package, which depends on `rules/`."""

from ..rules.gates import SEVERITIES, ApprovalGate, Gates, ScanGate, WindowGate, parse_duration, zone

__all__ = ["SEVERITIES", "ApprovalGate", "Gates", "ScanGate", "WindowGate", "parse_duration", "zone"]
