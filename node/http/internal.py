"""The catch-all: an unexpected exception in a handler becomes a logged 500 with an error id.

It wraps the whole app, inside Starlette's own outermost error middleware, so that one never
sees an exception (it would answer in plain text and re-raise into hypercorn, which logs the
traceback a second time, without the id). The id is in the JSON answer and in the log line, so
an operator can find the traceback a client quotes; the answer never carries exception text.
"""

from __future__ import annotations

import logging
import secrets

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.http.errors import error_body
from node.http.metrics import ApiMetrics

logger = logging.getLogger("iomtshare.node.http")


class InternalErrorMiddleware:
    """Answers 500 ``{"error": {"code": "internal", "message", "error_id"}}`` for any exception
    that escapes the app, logs it with its traceback and counts it in
    ``ApiMetrics.internal_errors``."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            error_id = secrets.token_hex(8)
            self.metrics.internal_errors.inc()
            logger.error(
                "http handler failed error_id=%s method=%s path=%s",
                error_id,
                scope.get("method"),
                scope.get("path"),
                exc_info=exc,
            )
            if started:
                return  # the answer is half sent; hypercorn closes the connection
            body = error_body("internal", f"internal error (id {error_id})", error_id=error_id)
            await JSONResponse(body, status_code=500)(scope, receive, send)
