"""Kept for imports written before the moto-style split: the state lives in `models.py`, the errors
in `exceptions.py`."""

from .exceptions import ApiError
from .models import MUTATING, PAGE_MAX, Call, FakeEci, Faults, Group

__all__ = ["MUTATING", "PAGE_MAX", "ApiError", "Call", "FakeEci", "Faults", "Group"]
