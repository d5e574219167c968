"""The API's errors, as ECI answers them (moto's `exceptions.py`).

An error body carries `RequestId` (unique per request, also for refused signatures), `HostId`,
`Code`, `Message` and `Recommend` (the troubleshooting link the real API adds). The codes and
statuses follow Alibaba's documentation of ECI's error codes and of the common RPC errors; the
legacy SDK (`aliyunsdkcore/client.py`) relies on the SignatureDoesNotMatch message ending in
`server string to sign is:<string>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote


class ApiError(Exception):
    """An error the API would answer: HTTP status, Code, Message (RequestId is set when answered)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id: str | None = None

    def body(self, request_id: str, host_id: str) -> dict[str, object]:
        return {
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={quote(self.code)}&product=Eci&requestId={request_id}",
        }


def missing(key: str) -> ApiError:
    return ApiError(
        400,
        f"MissingParameter.{key}" if key != "Signature" else "MissingParameter",
        f"The input parameter {key} that is mandatory for processing this request is not supplied.",
    )


def invalid_parameter(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def incorrect_status(status: str) -> ApiError:
    # 400, as the API documents IncorrectStatus (it is not a permission problem).
    return ApiError(
        400, "IncorrectStatus", f"The current status of the resource does not support this operation: {status}"
    )


def signature_mismatch(string_to_sign: str) -> ApiError:
    return ApiError(
        400,
        "SignatureDoesNotMatch",
        f"Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}",
    )


def access_key_not_found() -> ApiError:
    return ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")


def nonce_used() -> ApiError:
    return ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")


def timestamp_expired(timestamp: str) -> ApiError:
    return ApiError(
        400,
        "InvalidTimeStamp.Expired",
        f"Specified time stamp or date value is expired: {timestamp} (allowed skew: 15 minutes).",
    )


def timestamp_format(timestamp: str) -> ApiError:
    return ApiError(
        400, "InvalidTimeStamp.Format", f"Specified time stamp or date value is not well formatted: {timestamp}"
    )


def throttled() -> ApiError:
    return ApiError(400, "Throttling.User", "Request was denied due to user flow control.")


def unavailable() -> ApiError:
    return ApiError(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")


# ---- checks of request parameters shared by the models and acr_gates.py ----


def required(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    if not value or not isinstance(value, str):
        raise ApiError(
            400,
            f"MissingParameter.{key}",
            f"The input parameter {key} that is mandatory for processing this request is not supplied.",
        )
    return value


def check_tags(tags: list[Any], *, max_key: int = 128) -> None:
    """Tag.N as ECI checks it: at most 20; keys 1..max_key characters (64 on CreateContainerGroup /
    UpdateContainerGroup, 128 on TagResources: their API references), values at most 128; no key
    starting with acs: or aliyun, no value starting with acs:, neither containing http:// or https://
    (the ECI tags guide). The error names the key."""
    if len(tags) > 20:
        raise ApiError(400, "InvalidParameter.TagCount", "at most 20 tags")
    for tag in tags:
        key, value = str(tag.get("Key") or ""), str(tag.get("Value") or "")
        if not key or len(key) > max_key:
            raise ApiError(400, "InvalidParameter.Tag", f"tag key {key!r} must be 1-{max_key} characters")
        if len(value) > 128:
            raise ApiError(400, "InvalidParameter.Tag", f"the value of tag {key!r} is longer than 128 characters")
        if key.lower().startswith(("acs:", "aliyun")) or value.lower().startswith("acs:"):
            raise ApiError(400, "InvalidParameter.Tag", f"tag {key!r} uses a reserved prefix (acs: / aliyun)")
        if any(u in text for text in (key, value) for u in ("http://", "https://")):
            raise ApiError(400, "InvalidParameter.Tag", f"tag {key!r} contains a URL")
