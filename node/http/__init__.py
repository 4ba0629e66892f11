"""The node's HTTP JSON API: a Starlette app served by hypercorn on trio, on loopback by default.

Every route lives here: :mod:`node.http.routes` (what needs the running node) and
:mod:`node.http.explorer` (read-only ledger queries), both over a :class:`node.view.NodeView`.
``build_app(view, metrics)`` gives the app; ``await nursery.start(run_http, app,
HttpConfig(port=...))`` serves it and returns its URLs; :class:`HttpApi` is both as a service.
"""

from node.http.app import DEFAULT_MAX_BODY_BYTES, build_app
from node.http.errors import (
    ApiError,
    BadRequest,
    Busy,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    Syncing,
    TooManyRequests,
    TransactionRejected,
    Unavailable,
    UnsupportedMediaType,
)
from node.http.metrics import ApiMetrics
from node.http.server import HttpConfig, HttpConfigError, run_http
from node.http.service import HttpApi

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ApiError",
    "ApiMetrics",
    "BadRequest",
    "Busy",
    "Conflict",
    "Forbidden",
    "HttpApi",
    "HttpConfig",
    "HttpConfigError",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RequestTimeout",
    "Syncing",
    "TooManyRequests",
    "TransactionRejected",
    "Unavailable",
    "UnsupportedMediaType",
    "build_app",
    "run_http",
]
