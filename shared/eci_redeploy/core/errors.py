"""The project's typed errors. Each entry point catches `EciRedeployError` in one place."""

from __future__ import annotations


class EciRedeployError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 1

    def one_line(self) -> str:
        from .secrets import redact_url  # an endpoint or URL echoed in a message keeps no password

        return redact_url(" ".join(str(self).split()))


class InputError(EciRedeployError):
    """Bad input: an unreadable event, an invalid rules file. Nothing is deployed."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None) -> None:
        self.source = source
        self.field = field
        where = ": ".join(p for p in (source, field) if p)
        super().__init__(f"{where}: {message}" if where else message)


class ImageReferenceError(InputError):
    """An image reference that the OCI distribution grammar rejects."""


class RulesError(InputError):
    """The rules file (or a template it names) is invalid."""


class EventError(InputError):
    """A trigger payload that no adapter can read."""


class AuthenticationError(InputError):
    """A webhook request without a valid token or signature."""

    exit_code = 3


class PlanningError(EciRedeployError):
    """The plan cannot be made safely, e.g. a private registry without credentials."""

    exit_code = 4

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        self.rule = rule
        super().__init__(f"rule {rule}: {message}" if rule else message)


class EciApiError(EciRedeployError):
    """ECI answered with an error (or did not answer)."""

    exit_code = 5
    retryable = False

    def __init__(
        self,
        code: str,
        message: str,
        *,
        action: str = "",
        request_id: str | None = None,
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        self.code = code
        self.message = message
        self.action = action
        self.request_id = request_id
        self.status = status
        self.attempts = attempts
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{action or 'ECI'} failed: {code}: {message}{rid}")


class RetryableEciError(EciApiError):
    """Throttling, 5xx or no response: the same request with the same ClientToken may be sent again."""

    retryable = True


class IdempotencyConflict(EciApiError):
    """Same ClientToken, different parameters: a bug or a forged replay, never retried."""


class EciAuthError(EciApiError):
    """The credentials were refused (signature, key, permission)."""


class RetryLater(Exception):
    """Raised from an async handler (or a work order run by the in-process writer) so that the
    invocation is tried again later (ClientTokens make the retry safe); never used for bad input,
    which a retry cannot fix. Not an EciRedeployError: the handlers' catch-all must let it through.
    What is worth a retry is decided in clients/eci.py (`is_retryable`, `retry_later`)."""


class ConfigError(EciRedeployError):
    """The environment is missing something the run needs (credentials, endpoint)."""

    exit_code = 2
