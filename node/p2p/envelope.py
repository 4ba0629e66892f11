"""Canonical envelopes carried in request/response frames.

A request frame holds a :class:`RequestEnvelope`; the answer frame holds a
:class:`ResponseEnvelope` whose status says whether ``body`` is the handler's response or a short
UTF-8 explanation of an error. Both use the project codec (type tag + version), so garbage on a
protocol is told apart from a request at the first byte.

Type tags 0xE8-0xEF belong to :mod:`node.p2p` (see :mod:`crypto.tags`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError

REQUEST_TAG = tags.P2P_REQUEST_ENVELOPE
RESPONSE_TAG = tags.P2P_RESPONSE_ENVELOPE
VERSION = 2  # v2: tag moved out of crypto.light's range (crypto.tags)

#: Error details are cut to this many characters so an error frame stays small.
MAX_DETAIL_CHARS = 512


class Status(IntEnum):
    """Outcome carried in a response envelope."""

    OK = 0
    BAD_REQUEST = 1  # malformed or oversized request frame
    REJECTED = 2  # the handler refused the request on purpose
    INTERNAL = 3  # the handler failed; details stay in the server's log
    BUSY = 4  # too many requests in flight on the server; retrying later may work


@dataclass(frozen=True, slots=True)
class RequestEnvelope:
    """One request: the opaque payload given to the protocol's handler."""

    payload: bytes

    def to_bytes(self) -> bytes:
        return Writer(REQUEST_TAG, VERSION).blob(self.payload).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> RequestEnvelope:
        """Parse a request envelope; raises :class:`DecodeError` on anything malformed."""

        def body(reader: Reader) -> RequestEnvelope:
            reader.expect_header(REQUEST_TAG, VERSION)
            return cls(reader.blob())

        return parse(data, "request envelope", body)


@dataclass(frozen=True, slots=True)
class ResponseEnvelope:
    """The answer to one request: a status and either the response or an error detail."""

    status: Status
    body: bytes

    @classmethod
    def ok(cls, body: bytes) -> ResponseEnvelope:
        return cls(Status.OK, body)

    @classmethod
    def error(cls, status: Status, detail: str) -> ResponseEnvelope:
        if status is Status.OK:
            raise ValueError("an error response needs a non-OK status")
        return cls(status, detail[:MAX_DETAIL_CHARS].encode("utf-8"))

    @property
    def detail(self) -> str:
        """The error explanation (lossy UTF-8 decoding: it is only ever shown, never parsed)."""
        return self.body.decode("utf-8", errors="replace")[:MAX_DETAIL_CHARS]

    def to_bytes(self) -> bytes:
        return Writer(RESPONSE_TAG, VERSION).u8(self.status).blob(self.body).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ResponseEnvelope:
        """Parse a response envelope; raises :class:`DecodeError` on anything malformed."""

        def body(reader: Reader) -> ResponseEnvelope:
            reader.expect_header(RESPONSE_TAG, VERSION)
            code = reader.u8()
            try:
                status = Status(code)
            except ValueError as exc:
                raise DecodeError(f"response envelope: unknown status {code}") from exc
            return cls(status, reader.blob())

        return parse(data, "response envelope", body)
