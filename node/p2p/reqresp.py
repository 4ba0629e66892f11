"""Request/response protocols: one stream per request, one frame each way.

A protocol is a libp2p protocol id plus an async handler ``(peer_id, payload) -> response``
and the largest request payload it takes.
The requester writes a :class:`RequestEnvelope` frame and reads one :class:`ResponseEnvelope`
frame back. The server side never lets a bad peer or a failing handler hurt the host: a request
beyond the peer's share of inbound slots (:mod:`node.p2p.inbound`) gets ``BUSY``; a length prefix
above the protocol's limit gets ``BAD_REQUEST`` before any of the body is read; a frame that does
not arrive by its read deadline is dropped; a malformed frame gets ``BAD_REQUEST``, a handler that
raises gets ``INTERNAL`` (or ``REJECTED`` with its message for :class:`RequestRejected`). Such
events are logged, those a peer can repeat at will once per peer per burst
(:mod:`node.p2p.quiet_log`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from crypto.errors import DecodeError
from node.p2p.allowlist import PeerAllowlist
from node.p2p.atomic import open_stream, release_stream
from node.p2p.config import P2PConfig
from node.p2p.envelope import RequestEnvelope, ResponseEnvelope, Status
from node.p2p.errors import (
    FrameTooLarge,
    P2PError,
    PeerRefused,
    ProtocolViolation,
    RemoteError,
    RequestRejected,
    RequestTimeout,
    StreamBroken,
)
from node.p2p.framing import read_exactly, read_frame, read_length, write_frame
from node.p2p.inbound import InboundSlots
from node.p2p.metrics import P2PMetrics
from node.p2p.quiet_log import QuietLog

logger = logging.getLogger("iomtshare.node.p2p.reqresp")

#: ``handler(peer_id, request_payload) -> response_payload``.
RequestHandler = Callable[[ID, bytes], Awaitable[bytes]]

# Outcome label of an outbound request, by the error it ended with.
_OUTCOMES: dict[type[P2PError], str] = {
    PeerRefused: "refused",
    FrameTooLarge: "too_large",
    RequestTimeout: "timeout",
    RemoteError: "remote_error",
    ProtocolViolation: "protocol_violation",
    StreamBroken: "broken",
}

# Bytes a response envelope adds around its body (tag, version, status, length prefix).
_RESPONSE_OVERHEAD = len(ResponseEnvelope.ok(b"").to_bytes())
# Bytes a request envelope adds around its payload (a u32 length inside), and the slowest a
# request frame may arrive: each MiB announced adds a quarter second to the read deadline.
_REQUEST_OVERHEAD = len(RequestEnvelope(b"").to_bytes())
_SLOWEST_REQUEST_BYTES_PER_SECOND = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Served:
    handler: RequestHandler
    max_frame: int  # the largest request frame, envelope included


class RequestResponse:
    """Serves registered protocols and sends requests, over one libp2p host."""

    def __init__(
        self,
        host: IHost,
        allowlist: PeerAllowlist,
        config: P2PConfig,
        slots: InboundSlots,
        metrics: P2PMetrics,
    ) -> None:
        self._host = host
        self._metrics = metrics
        self._allowlist = allowlist
        self._max_frame = config.max_frame_bytes
        self._timeout = config.request_timeout
        self._read_timeout = config.request_read_timeout
        self._slots = slots
        self._protocols: dict[str, _Served] = {}
        self._quiet = QuietLog(logger)

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(self._protocols)

    def register(
        self, protocol: str, handler: RequestHandler, max_request_bytes: int | None = None
    ) -> None:
        """Serve ``protocol`` with ``handler``, for request payloads of at most
        ``max_request_bytes`` (default: what the frame limit allows); raises :class:`P2PError`
        if already registered or the limit is negative."""
        if protocol in self._protocols:
            raise P2PError(f"protocol {protocol} already has a handler")
        max_frame = self._max_frame
        if max_request_bytes is not None:
            if max_request_bytes < 0:
                raise P2PError(f"max_request_bytes of {protocol} must not be negative")
            max_frame = min(max_frame, max_request_bytes + _REQUEST_OVERHEAD)
        served = self._protocols[protocol] = _Served(handler, max_frame)
        self._host.set_stream_handler(
            TProtocol(protocol), functools.partial(self._serve, protocol, served)
        )

    async def request(
        self, peer_id: ID, protocol: str, payload: bytes, timeout: float | None = None
    ) -> bytes:
        """Send ``payload`` to ``peer_id`` on ``protocol`` and return the response payload.

        Raises :class:`PeerRefused` for a peer outside genesis, :class:`FrameTooLarge` for an
        oversized request or response, :class:`RequestTimeout` when no answer arrives within
        ``timeout`` (default: the host's), :class:`RemoteError` for an error answer,
        :class:`ProtocolViolation` for a malformed answer and :class:`StreamBroken` when the
        stream cannot be opened or fails midway.
        """
        outcome = "error"
        try:
            body = await self._request(peer_id, protocol, payload, timeout)
            outcome = "ok"
            return body
        except P2PError as exc:
            outcome = _OUTCOMES.get(type(exc), "error")
            raise
        finally:
            self._metrics.requests_sent.labels(protocol, outcome).inc()

    async def _request(
        self, peer_id: ID, protocol: str, payload: bytes, timeout: float | None
    ) -> bytes:
        self._allowlist.check(peer_id, f"request on {protocol}")
        frame = RequestEnvelope(payload).to_bytes()
        if len(frame) > self._max_frame:
            raise FrameTooLarge(
                f"request of {len(frame)} bytes exceeds the frame limit of {self._max_frame}"
            )
        limit = self._timeout if timeout is None else timeout
        try:
            with trio.fail_after(limit):
                response = await self._exchange(peer_id, protocol, frame, limit)
        except trio.TooSlowError as exc:
            raise RequestTimeout(f"{protocol} to {peer_id}: no answer within {limit}s") from exc
        if response.status is not Status.OK:
            raise RemoteError(response.status, response.detail)
        return response.body

    async def _exchange(
        self, peer_id: ID, protocol: str, frame: bytes, limit: float
    ) -> ResponseEnvelope:
        # The open is shielded from cancellation (see node.p2p.atomic), so it gets the
        # request's own time limit rather than relying on the caller's scope.
        stream = await open_stream(self._host, peer_id, [protocol], limit)
        completed = False
        try:
            await write_frame(stream, frame, self._max_frame)
            raw = await read_frame(stream, self._max_frame)
            try:
                response = ResponseEnvelope.from_bytes(raw)
            except DecodeError as exc:
                raise ProtocolViolation(f"{protocol} from {peer_id}: {exc}") from exc
            completed = True
            return response
        finally:
            await release_stream(stream, reset=not completed)

    async def _serve(self, protocol: str, served: _Served, stream: INetStream) -> None:
        peer_id = stream.muxed_conn.peer_id
        refusal = self._slots.take(peer_id)
        if refusal is not None:
            self._quiet.warning(
                (peer_id, refusal),
                "request refused protocol=%s peer=%s reason=%s",
                protocol,
                peer_id,
                refusal,
            )
            await self._answer(
                protocol, stream, ResponseEnvelope.error(Status.BUSY, "server busy")
            )
            return
        try:
            request = await self._read_request(protocol, served, peer_id, stream)
            if request is None:
                return
            with trio.move_on_after(self._timeout) as scope:
                if isinstance(request, ResponseEnvelope):
                    answer = request
                else:
                    answer = await self._handle(protocol, served.handler, peer_id, request)
                await self._answer(protocol, stream, answer)
            if scope.cancelled_caught:
                logger.warning(
                    "request dropped protocol=%s peer=%s reason=timeout after %ss",
                    protocol,
                    peer_id,
                    self._timeout,
                )
                await release_stream(stream, reset=True)
        finally:
            self._slots.give_back(peer_id)

    async def _read_request(
        self, protocol: str, served: _Served, peer_id: ID, stream: INetStream
    ) -> RequestEnvelope | ResponseEnvelope | None:
        """Read one request frame by its deadline: the request, an error answer for a bad one,
        or ``None`` when the stream is already gone (dropped here when late or broken)."""
        try:
            with trio.move_on_after(self._read_timeout) as scope:
                size = await read_length(stream, served.max_frame)
                scope.deadline = min(
                    scope.deadline + size / _SLOWEST_REQUEST_BYTES_PER_SECOND,
                    trio.current_time() + self._timeout,
                )
                return RequestEnvelope.from_bytes(await read_exactly(stream, size))
        except (FrameTooLarge, DecodeError) as exc:
            line = "bad request protocol=%s peer=%s reason=%s"
            self._quiet.warning((peer_id, "bad"), line, protocol, peer_id, exc)
            detail = str(exc) if isinstance(exc, FrameTooLarge) else f"malformed request: {exc}"
            return ResponseEnvelope.error(Status.BAD_REQUEST, detail)
        except StreamBroken as exc:
            logger.info("request abandoned protocol=%s peer=%s reason=%s", protocol, peer_id, exc)
        if scope.cancelled_caught:
            self._quiet.warning(
                (peer_id, "slow"),
                "request dropped protocol=%s peer=%s reason=frame not read within its deadline",
                protocol,
                peer_id,
            )
        await release_stream(stream, reset=True)
        return None

    async def _handle(
        self, protocol: str, handler: RequestHandler, peer_id: ID, request: RequestEnvelope
    ) -> ResponseEnvelope:
        """Run one request's handler and make its answer."""
        try:
            body = await handler(peer_id, request.payload)
        except RequestRejected as exc:
            logger.info("request rejected protocol=%s peer=%s reason=%s", protocol, peer_id, exc)
            return ResponseEnvelope.error(Status.REJECTED, str(exc))
        except Exception:
            # The handler's bug must not take the host down nor leak details to the peer.
            logger.exception("request handler failed protocol=%s peer=%s", protocol, peer_id)
            return ResponseEnvelope.error(Status.INTERNAL, "internal error")
        if len(body) + _RESPONSE_OVERHEAD > self._max_frame:
            logger.error(
                "response too large protocol=%s peer=%s size=%d limit=%d",
                protocol,
                peer_id,
                len(body),
                self._max_frame,
            )
            return ResponseEnvelope.error(Status.INTERNAL, "response exceeds the frame limit")
        return ResponseEnvelope.ok(body)

    async def _answer(self, protocol: str, stream: INetStream, answer: ResponseEnvelope) -> None:
        self._metrics.requests_served.labels(protocol, answer.status.name.lower()).inc()
        try:
            await write_frame(stream, answer.to_bytes(), self._max_frame)
        except StreamBroken as exc:
            logger.info("answer lost peer=%s reason=%s", stream.muxed_conn.peer_id, exc)
            await release_stream(stream, reset=True)
            return
        await release_stream(stream, reset=False)
