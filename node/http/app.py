"""The node's HTTP JSON API as one Starlette app: every route, error handling and limits.

The routes (:mod:`node.http.routes`, :mod:`node.http.explorer`, :mod:`node.http.browse`) only
parse and check HTTP input and ask a :class:`~node.view.NodeView`; ``/explorer`` serves the
web explorer over them (:mod:`node.http.webexplorer`) and ``/`` lists them all
(:mod:`node.http.index`). Every error is JSON with a 4xx code (5xx only for the node's own
failures), bodies are size- and time-limited, and ``/metrics`` serves Prometheus text from the
node's registry.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from node.http.authority_routes import authority_routes
from node.http.browse import browse_routes
from node.http.device_routes import device_routes
from node.http.errors import ApiError, error_body
from node.http.explorer import explorer_routes
from node.http.index import index_routes
from node.http.internal import InternalErrorMiddleware
from node.http.limits import DEFAULT_BODY_TIMEOUT_SECONDS, BodyLimitMiddleware
from node.http.metrics import ApiMetrics, MetricsMiddleware
from node.http.routes import node_routes
from node.http.webexplorer import web_explorer_routes
from node.view import NodeView

logger = logging.getLogger("iomtshare.node.http")

#: Transactions are submitted hex-encoded; this bounds the decoded size too.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


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
    view: NodeView,
    metrics: ApiMetrics,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS,
) -> Starlette:
    """The Starlette app serving ``view``; ``metrics.registry`` backs ``/metrics``.

    A body larger than ``max_body_bytes`` gets 413, one not received within
    ``body_timeout_seconds`` 408.
    """
    served = [
        *node_routes(view, metrics.registry),
        *explorer_routes(view),
        *browse_routes(view),
        *authority_routes(view),
        *device_routes(view),
        *web_explorer_routes(),
    ]
    return Starlette(
        routes=[*served, *index_routes(view, served)],
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
