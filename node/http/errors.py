"""Errors the HTTP API turns into JSON answers with a 4xx status.

Every error body has one shape, ``{"error": {"code": "...", "message": "..."}}``, so clients
(and the CLI) can branch on ``code`` and show ``message``.
"""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON error shape (``extra`` adds fields such as an ``error_id``)."""
    return {"error": {"code": code, "message": message, **extra}}


class ApiError(Exception):
    """An error answered to the client; subclasses fix the HTTP status and the code."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (none unless a subclass needs one, e.g. ``Retry-After``)."""
        return {}


class BadRequest(ApiError):
    """The request is malformed: not JSON, a missing or mistyped field, bad hex."""


class UnsupportedMediaType(ApiError):
    """The body is not declared as ``application/json``."""

    status_code = 415
    code = "unsupported_media_type"


class PayloadTooLarge(ApiError):
    """The request body is larger than the API accepts."""

    status_code = 413
    code = "too_large"


class RequestTimeout(ApiError):
    """The request body did not arrive in time (a stalled or trickling client)."""

    status_code = 408
    code = "timeout"


class TooManyRequests(ApiError):
    """A bounded resource (a pending area, a per-client quota) is full for now."""

    status_code = 429

    def __init__(self, message: str, code: str = "busy") -> None:
        super().__init__(message)
        self.code = code


class TransactionRejected(ApiError):
    """The node refused a well-formed transaction (bad signature, stale, replayed, ...)."""

    status_code = 422
    code = "rejected"


class Unavailable(ApiError):
    """The node cannot serve the request right now (starting, catching up, shutting down)."""

    status_code = 503
    code = "unavailable"


class RetryLater(Unavailable):
    """A 503 with a ``Retry-After`` header: the refusal is not final, and the client is told
    when to try again."""

    def __init__(self, message: str, retry_after_s: int = 2) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class Syncing(RetryLater):
    """The node is behind the chain and refused something that later blocks may make valid,
    so a client retries instead of taking a refusal this node cannot yet stand behind."""

    code = "syncing"


class Busy(RetryLater):
    """The network already holds as much undecided work as it can decide promptly; the
    submission was not taken (nothing stored, its nonce not used)."""

    code = "busy"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message, retry_after_s)


class Forbidden(ApiError):
    """The caller is known but not allowed (not registered, blacklisted, not granted)."""

    status_code = 403
    code = "forbidden"

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message)
        self.code = code


class NotFound(ApiError):
    """The named block, transaction, member, record or request is unknown here."""

    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    """A duplicate transaction, a replayed nonce or a stale timestamp."""

    status_code = 409
    code = "conflict"

    def __init__(self, message: str, code: str = "conflict") -> None:
        super().__init__(message)
        self.code = code


class InvalidInput(ApiError):
    """Well-formed JSON whose content is refused (bad signature, a rule of the ledger broken)."""

    status_code = 400

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.code = code


def error_for_status(status: int, code: str, message: str) -> ApiError:
    """The API error for a refusal reported by another layer as an HTTP status and a code."""
    if status == 403:
        return Forbidden(message, code)
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message, code)
    if status == 429:
        return TooManyRequests(message, code)
    if status == 503:
        return Unavailable(message)
    return InvalidInput(message, code)
