"""The grammars of every value that becomes part of a host name: region ids, ACR EE instance ids and
names, registry hosts. Checked where a payload is read and again where a host is built (a work order
crosses a trust boundary), so that no payload can choose the host the product connects to.

Sources: region ids as Alibaba Cloud lists them ("Region IDs", https://help.aliyun.com/en/drp/support/
region-ids: `cn-hangzhou`, `ap-southeast-1`; Finance Cloud `cn-shanghai-finance-1`); ACR EE instance ids
as the ACR API writes them (`cri-` and lowercase letters and digits); host names per RFC 1123 section
2.1 (labels of ASCII letters, digits and hyphens, 1-63 characters, no hyphen at either end; at most 253
characters), an IPv6 literal in brackets (RFC 3986 section 3.2.2), and an optional port 1-65535.
Every pattern is matched whole with `re.fullmatch` (`$` would accept a final newline).
"""

from __future__ import annotations

import re

from .errors import InputError

_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+){1,4}")
_REGION_MAX = 40
_INSTANCE_ID = re.compile(r"cri-[a-z0-9]{1,64}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_INSTANCE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")  # one DNS label of the default domain
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_HOST_MAX = 253


class HostError(InputError):
    """A region, instance id or host that fails its grammar: it is never put in a host name."""


def region_problem(value: object) -> str | None:
    if isinstance(value, str) and len(value) <= _REGION_MAX and _REGION.fullmatch(value):
        return None
    return f"{value!r} is not a region id (like cn-hangzhou, ap-southeast-1)"


def instance_id_problem(value: object) -> str | None:
    if isinstance(value, str) and _INSTANCE_ID.fullmatch(value):
        return None
    return f"{value!r} is not an ACR EE instance id (cri- and lowercase letters and digits)"


def instance_name_problem(value: object) -> str | None:
    if isinstance(value, str) and _INSTANCE_NAME.fullmatch(value):
        return None
    return f"{value!r} is not an ACR EE instance name (one DNS label: lowercase letters, digits, '-')"


def host_problem(value: object) -> str | None:
    """None for `name[:port]` or `[v6][:port]` per RFC 1123 / RFC 3986; otherwise why not."""
    why = f"{value!r} is not a host[:port] (RFC 1123 host name, optional port 1-65535)"
    if not isinstance(value, str) or not value.isascii() or len(value) > _HOST_MAX + 6:
        return why
    name, port = value, None
    if value.startswith("["):
        close = value.find("]")
        if close < 0:
            return why
        name, rest = value[1:close], value[close + 1 :]
        if rest and not rest.startswith(":"):
            return why
        port = rest[1:] if rest else None
        import ipaddress  # only for a bracketed literal: the cold path imports this module

        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return why
    else:
        if ":" in value:
            name, _, port = value.rpartition(":")
        if len(name) > _HOST_MAX or not _HOSTNAME.fullmatch(name):
            return why
    if port is not None and not (_PORT.fullmatch(port) and int(port) <= 65535):
        return why
    return None


def _checked(problem: str | None, value: str, where: str) -> str:
    if problem:
        raise HostError(problem, field=where)
    return value


def check_region(value: str, *, where: str = "region") -> str:
    return _checked(region_problem(value), value, where)


def check_instance_id(value: str, *, where: str = "instance_id") -> str:
    return _checked(instance_id_problem(value), value, where)


def check_instance_name(value: str, *, where: str = "instance_name") -> str:
    return _checked(instance_name_problem(value), value, where)


def check_host(value: str, *, where: str = "host") -> str:
    return _checked(host_problem(value), value, where)


def api_host(service: str, region: str) -> str:
    """`<service>.<region>.aliyuncs.com`, the public endpoint of an Alibaba Cloud API in a region: the
    one place such a host is built from a region, so the region is checked here whoever gave it."""
    return f"{service}.{check_region(region)}.aliyuncs.com"
