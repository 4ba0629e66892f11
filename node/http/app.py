"""The node's HTTP JSON API (a Starlette app): status, transaction submission, metrics.

The app only parses and validates HTTP input and calls a :class:`NodeApi`; the node provides
that object. Every error is JSON with a 4xx code (5xx only for the node's own failures), bodies
are size-limited, and ``/metrics`` serves Prometheus text from the node's registry.
"""

from __future__ import annotations

import json
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

from node.http.errors import ApiError, BadRequest, UnsupportedMediaType
from node.http.limits import BodyLimitMiddleware
from node.http.metrics import ApiMetrics, MetricsMiddleware

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
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status_code)


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


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.exception("http handler failed path=%s", request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal error")


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; raises :class:`BadRequest` or
    :class:`UnsupportedMediaType` (and 413 through the body limit)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    body = await request.body()
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object")
    return value


def hex_field(document: Mapping[str, Any], name: str) -> bytes:
    """Decode the hex string ``document[name]``; raises :class:`BadRequest` if absent or bad."""
    value = document.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"field {name!r} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise BadRequest(f"field {name!r} is not valid hex") from exc


def build_app(
    node: NodeApi,
    metrics: ApiMetrics,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The Starlette app serving ``node``; ``metrics.registry`` backs ``/metrics``.

    ``routes`` adds the node's further endpoints (explorer, requests, storage) after the three
    served here; they get the same error handling, body limit and metrics.
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
        # Metrics outermost, so refused and oversized requests are counted too.
        middleware=[
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(BodyLimitMiddleware, max_bytes=max_body_bytes),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
