"""Kept for imports written before the moto-style split: request parsing and answers live in
`responses.py`, signature checks in `signing.py`."""

from .responses import ACR_ACTIONS, ACR_VERSION, API_VERSION, WireLayer, WireResponse
from .signing import DEFAULT_CREDENTIALS

__all__ = ["ACR_ACTIONS", "ACR_VERSION", "API_VERSION", "DEFAULT_CREDENTIALS", "WireLayer", "WireResponse"]
