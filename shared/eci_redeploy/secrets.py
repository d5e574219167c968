"""A value that must never be printed: str(), repr(), format() and JSON all show `******`."""

from __future__ import annotations

import json
from typing import Any

MASK = "******"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return MASK

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:  # pickling would copy the value somewhere we cannot mask it
        raise TypeError("Secret values are not picklable")


def masked(value: Any) -> Any:
    """A copy of a nested structure with every Secret replaced by the mask."""
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    return value


def revealed(value: Any) -> Any:
    """A copy with every Secret replaced by its value: only for the request that goes to ECI."""
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, dict):
        return {k: revealed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [revealed(v) for v in value]
    return value


def dumps_masked(value: Any, **kwargs: Any) -> str:
    return json.dumps(masked(value), default=str, **kwargs)
