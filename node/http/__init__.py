"""The node's HTTP JSON API: a Starlette app served by hypercorn on trio, on loopback by default.

``build_app(node, metrics)`` gives the app for any object implementing :class:`NodeApi`;
``await nursery.start(run_http, app, HttpConfig(port=...))`` serves it and returns its URLs.
"""

from node.http.app import DEFAULT_MAX_BODY_BYTES, NodeApi, build_app
from node.http.errors import (
    ApiError,
    BadRequest,
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

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ApiError",
    "ApiMetrics",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "HttpConfig",
    "HttpConfigError",
    "InvalidInput",
    "NodeApi",
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
