"""The fake without HTTP: an object with the SDK client's methods, calling the backend directly.

Requests still go through the SDK's own request models and flattening, and errors come back as the
SDK's own exception types, so the gateway's translation is exercised; only the socket is skipped.
"""

from __future__ import annotations

from typing import Any

from .backend import ApiError, FakeEci


class InProcessClient:
    def __init__(self, backend: FakeEci, region: str) -> None:
        self.backend = backend
        self.region = region

    def __getattr__(self, name: str) -> Any:
        if not name.endswith("_with_options"):
            raise AttributeError(name)
        action = "".join(part.capitalize() for part in name.removesuffix("_with_options").split("_"))

        def call(request: Any, runtime: Any) -> Any:
            from alibabacloud_eci20180808 import models
            from alibabacloud_openapi_util.client import Client as OpenApiUtil
            from alibabacloud_tea_openapi.exceptions import ClientException, ServerException

            params = OpenApiUtil.query(request.to_map())
            try:
                body = self.backend.handle(action, params)
            except ApiError as err:
                exc_type = ServerException if err.status >= 500 else ClientException
                data = {
                    "Code": err.code,
                    "Message": err.message,
                    "RequestId": getattr(err, "request_id", None),
                    "statusCode": err.status,
                }
                raise exc_type(
                    status_code=err.status, code=err.code, message=err.message, request_id=data["RequestId"], data=data
                ) from None
            response = getattr(models, f"{action}Response")()
            return response.from_map({"headers": {}, "statusCode": 200, "body": body})

        return call


def inprocess_factory(backend: FakeEci) -> Any:
    return lambda region: InProcessClient(backend, region)
