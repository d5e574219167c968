"""The API's type checks of numeric request parameters, in one place.

ECI refuses a parameter whose value is not of the parameter's type (`Cpu=abc`, `Limit=1.5`,
`Container.1.Port.1.Port=abc`) with `InvalidParameter` (HTTP 400) naming it. The fake checks every
number it models (what `describe.py` reads back as an int or a float) before an action runs, so a
value a caller sent is never replaced by a default and never reaches `int()` unchecked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from .exceptions import invalid_parameter

_CONTAINER = r"(?:Container|InitContainer)\.N\."
_PROBE = r"Container\.N\.(?:LivenessProbe|ReadinessProbe)\."
FLOATS = re.compile(rf"^(?:Cpu|Memory|SpotPriceLimit|{_CONTAINER}(?:Cpu|Memory))$")
INTS = re.compile(
    rf"^(?:Limit|EphemeralStorage|ActiveDeadlineSeconds"
    rf"|{_CONTAINER}(?:Gpu|Port\.N\.Port|SecurityContext\.RunAsUser)"
    rf"|{_PROBE}(?:InitialDelaySeconds|PeriodSeconds|TimeoutSeconds|SuccessThreshold|FailureThreshold"
    rf"|HttpGet\.Port|TcpSocket\.Port))$"
)
_INT_TEXT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT_TEXT = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_INDEX = re.compile(r"\.[0-9]+(?=\.|$)")


def _shape(key: str) -> str:
    """`Container.2.Port.1.Port` -> `Container.N.Port.N.Port`."""
    return _INDEX.sub(".N", key)


def check_numbers(params: Mapping[str, object]) -> None:
    """Raises InvalidParameter for the first numeric parameter whose value is not of its type."""
    for key, value in params.items():
        shape = _shape(key)
        if INTS.match(shape):
            if not _INT_TEXT.match(str(value)):
                raise invalid_parameter(f"The specified parameter {key} is not valid: {value!r} is not an integer.")
        elif FLOATS.match(shape):
            text = str(value)
            if not _FLOAT_TEXT.match(text) or not math.isfinite(float(text)):
                raise invalid_parameter(f"The specified parameter {key} is not valid: {value!r} is not a number.")


__all__ = ["FLOATS", "INTS", "check_numbers"]
