"""Request body limits with JSON errors: size (413) and time to arrive (408).

Starlette's own size limit answers in plain text, and hypercorn's read timeout only fires after
a whole ``read_timeout`` of silence, so a client that trickles a byte now and then would hold a
connection (and a task) for ever; the deadline here bounds the whole body.
"""

from __future__ import annotations

import trio
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.http.errors import PayloadTooLarge, RequestTimeout

#: Time a client has to send a whole request body, from the app's first read of it.
DEFAULT_BODY_TIMEOUT_SECONDS = 20.0


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes``: at once when Content-Length says so, otherwise as
    soon as the streamed body crosses the limit; and bodies still incomplete
    ``timeout_seconds`` after the app started reading them. The endpoint then sees
    :class:`PayloadTooLarge` or :class:`RequestTimeout`, answered as JSON by the app's error
    handler."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = PayloadTooLarge(self._message())
            body = {"error": {"code": error.code, "message": error.message}}
            await JSONResponse(body, status_code=error.status_code)(scope, receive, send)
            return
        received = 0
        complete = False
        deadline: float | None = None

        async def limited_receive() -> Message:
            nonlocal received, complete, deadline
            if complete:
                # Past the body only a disconnect can come, and waiting for it is fine.
                return await receive()
            if deadline is None:
                deadline = trio.current_time() + self.timeout_seconds
            with trio.move_on_at(deadline):
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_bytes:
                        raise PayloadTooLarge(self._message())
                    complete = not message.get("more_body", False)
                return message
            raise RequestTimeout(
                f"request body not received within {self.timeout_seconds:g} seconds"
            )

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"request body exceeds {self.max_bytes} bytes"
