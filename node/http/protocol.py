"""Hypercorn's own HTTP/1.1 error answers in the API's JSON error shape.

Requests that h11 cannot parse (a bad request line, a missing Host, a bad Content-Length,
headers that outgrow the buffer, a Transfer-Encoding other than chunked) never reach the app:
hypercorn answers them itself, with an empty body. :class:`JsonErrorH11Protocol` overrides the
one method that builds those answers. h11 reports only a status hint, not which rule broke, so
the message is per status. Its 501 (only for Transfer-Encoding) becomes a 400: the client sent
something this API does not take, which the API's contract answers with a 4xx.

Hypercorn has no setting for its protocol class, so :func:`install` rebinds the name its
connection wrapper looks up; a test pins the behaviour, so a hypercorn upgrade that renames the
method shows up there. HTTP/2 protocol errors end the connection with a GOAWAY frame and carry
no HTTP answer at all, so there is nothing to shape there.
"""

from __future__ import annotations

import json

import h11
import hypercorn.protocol
from hypercorn.protocol.h11 import H11Protocol

from node.http.errors import error_body

_ANSWERS = {
    400: (400, "bad_request", "malformed HTTP request"),
    431: (431, "headers_too_large", "request headers are too large"),
    501: (400, "unsupported_transfer_encoding", "only Transfer-Encoding: chunked is supported"),
}


def server_error(status_hint: int) -> tuple[int, bytes]:
    """The status and JSON body answered for h11's ``status_hint``."""
    status, code, message = _ANSWERS.get(
        status_hint, (status_hint, "bad_request", "the server cannot handle this request")
    )
    return status, json.dumps(error_body(code, message)).encode()


class JsonErrorH11Protocol(H11Protocol):
    """Hypercorn's HTTP/1.1 protocol, answering its own errors with a JSON body."""

    async def _send_error_response(self, status_code: int) -> None:
        status, body = server_error(status_code)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *self.config.response_headers("h11"),
        ]
        await self._send_h11_event(h11.Response(status_code=status, headers=headers))
        await self._send_h11_event(h11.Data(data=body))
        await self._send_h11_event(h11.EndOfMessage())


def install() -> None:
    """Make hypercorn build :class:`JsonErrorH11Protocol` for every HTTP/1.1 connection
    (idempotent; affects every hypercorn server of this process, which only serves the API)."""
    setattr(hypercorn.protocol, "H11Protocol", JsonErrorH11Protocol)  # noqa: B010
