"""The node's HTTP JSON API (a Starlette app): status, transaction submission, metrics.

The app only parses and validates HTTP input and calls a :class:`NodeApi`; the node provides
that object. Every error is JSON with a 4xx code (5xx only for the node's own failures), bodies
are size-limited, and ``/metrics`` serves Prometheus text from the node's registry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from node.http.body import read_json_object
from node.http.errors import ApiError, error_body
from node.http.internal import InternalErrorMiddleware
from node.http.limits import DEFAULT_BODY_TIMEOUT_SECONDS, BodyLimitMiddleware
from node.http.metrics import ApiMetrics, MetricsMiddleware
from node.http.params import hex_field

logger = logging.getLogger("iomtshare.node.http")

#: Transactions are submitted hex-encoded; this bounds the decoded size too.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class NodeApi(Protocol):
    """What the HTTP layer needs from a node."""

    def status(self) -> Mapping[str, Any]:
        """A JSON-ready summary (chain id, height, peers, ...)."""
        ...

    async def submit_transaction(self, raw: bytes) -> str:
        """Accept a signed, encoded transaction and return its id (hex).

        Raises :class:`node.http.errors.ApiError` subclasses, typically
        :class:`~node.http.errors.TransactionRejected`.
        """
        ...


def error_response(status_code: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status_code)


async def _api_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ApiError):
        raise TypeError("handler registered for ApiError only")
    logger.info(
        "http request refused path=%s code=%s reason=%s", request.url.path, exc.code, exc.message
    )
    response = error_response(exc.status_code, exc.code, exc.message)
    response.headers.update(exc.headers)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        raise TypeError("handler registered for HTTPException only")
    code = {404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    return error_response(exc.status_code, code, str(exc.detail))


def build_app(
    node: NodeApi,
    metrics: ApiMetrics,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The Starlette app serving ``node``; ``metrics.registry`` backs ``/metrics``.

    ``routes`` adds the node's further endpoints (explorer, requests, storage) after the three
    served here; they get the same error handling, body limits and metrics. A body larger than
    ``max_body_bytes`` gets 413, one not received within ``body_timeout_seconds`` 408.
    """

    async def status(request: Request) -> Response:
        return JSONResponse(dict(node.status()))

    async def submit(request: Request) -> Response:
        document = await read_json_object(request)
        tx_id = await node.submit_transaction(hex_field(document, "tx"))
        return JSONResponse({"tx_id": tx_id}, status_code=202)

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/status", status, methods=["GET"]),
            Route("/tx", submit, methods=["POST"]),
            Route("/metrics", prometheus, methods=["GET"]),
            *routes,
        ],
        # The catch-all outermost, then metrics, so refused, oversized and failed requests
        # are all counted.
        middleware=[
            Middleware(InternalErrorMiddleware, metrics=metrics),
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(
                BodyLimitMiddleware, max_bytes=max_body_bytes, timeout_seconds=body_timeout_seconds
            ),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
