"""A value that must never be printed: str(), repr(), format() and JSON all show `******`."""

from __future__ import annotations

import json
import re
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

    # Immutable, like a str: a copy is the same object, so that copying a request body (the image
    # cache's pull parameters, execution/prewarm.py) keeps its secrets wrapped instead of failing.
    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> Any:  # pickling would copy the value somewhere we cannot mask it
        raise TypeError("Secret values are not picklable")


# Keys whose value is a credential whatever wrapped it (a template's ImageRegistryCredential Password,
# `ImageRegistryCredential.1.Password` once flattened): masked even when it is a plain string, so a
# literal that slipped past validation is still never printed. `ClientToken` is not a secret.
_SENSITIVE_KEY = re.compile(r"(?:password|passwd|secret)\Z", re.IGNORECASE)
# user:password@ inside a URL (an endpoint or webhook URL given with credentials in it).
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@]*@")


def redact_url(text: str) -> str:
    """`https://user:pass@host/…` -> `https://******@host/…`, anywhere in a text."""
    return _URL_USERINFO.sub(rf"\1{MASK}@", text) if "://" in text else text


def redact_endpoint(value: str) -> str:
    """An endpoint setting (`[scheme://][user:pass@]host[:port]`) without its userinfo."""
    scheme, sep, rest = value.rpartition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = MASK + "@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def masked(value: Any) -> Any:
    """A copy of a nested structure with every Secret (and every credential-named key's value, and the
    userinfo of every URL) replaced by the mask."""
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {
            k: MASK if isinstance(k, str) and isinstance(v, str) and v and _SENSITIVE_KEY.search(k) else masked(v)
            for k, v in value.items()
        }
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
    from .visible import json_safe  # the CLI prints it: nothing a terminal would act on

    return json_safe(json.dumps(masked(value), default=str, **kwargs))
