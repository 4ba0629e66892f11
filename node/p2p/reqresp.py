"""Request/response protocols: one stream per request, one frame each way.

A protocol is a libp2p protocol id plus an async handler ``(peer_id, payload) -> response``.
The requester writes a :class:`RequestEnvelope` frame and reads one :class:`ResponseEnvelope`
frame back. The server side never lets a bad peer or a failing handler hurt the host: malformed
and oversized frames get a ``BAD_REQUEST`` answer, a handler that raises gets ``INTERNAL`` (or
``REJECTED`` with its message for :class:`RequestRejected`), and every such event is logged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from crypto.errors import DecodeError
from node.p2p.allowlist import PeerAllowlist
from node.p2p.atomic import open_stream, release_stream
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
from node.p2p.framing import read_frame, write_frame
from node.p2p.metrics import P2PMetrics

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


class RequestResponse:
    """Serves registered protocols and sends requests, over one libp2p host."""

    def __init__(
        self,
        host: IHost,
        allowlist: PeerAllowlist,
        *,
        max_frame_bytes: int,
        timeout: float,
        max_concurrent_inbound: int,
        metrics: P2PMetrics,
    ) -> None:
        self._host = host
        self._metrics = metrics
        self._allowlist = allowlist
        self._max_frame = max_frame_bytes
        self._timeout = timeout
        self._inbound_slots = trio.Semaphore(max_concurrent_inbound)
        self._protocols: dict[str, RequestHandler] = {}

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(self._protocols)

    def register(self, protocol: str, handler: RequestHandler) -> None:
        """Serve ``protocol`` with ``handler``; raises :class:`P2PError` if already registered."""
        if protocol in self._protocols:
            raise P2PError(f"protocol {protocol} already has a handler")
        self._protocols[protocol] = handler
        self._host.set_stream_handler(
            TProtocol(protocol), functools.partial(self._serve, protocol, handler)
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

    async def _serve(self, protocol: str, handler: RequestHandler, stream: INetStream) -> None:
        peer_id = stream.muxed_conn.peer_id
        try:
            self._inbound_slots.acquire_nowait()
        except trio.WouldBlock:
            logger.warning("request refused protocol=%s peer=%s reason=busy", protocol, peer_id)
            await self._answer(
                protocol, stream, ResponseEnvelope.error(Status.BUSY, "server busy")
            )
            return
        try:
            with trio.move_on_after(self._timeout) as scope:
                answer = await self._handle(protocol, handler, peer_id, stream)
                if answer is not None:
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
            self._inbound_slots.release()

    async def _handle(
        self, protocol: str, handler: RequestHandler, peer_id: ID, stream: INetStream
    ) -> ResponseEnvelope | None:
        """Read, decode and run one request; ``None`` means the stream is already gone."""
        try:
            raw = await read_frame(stream, self._max_frame)
            request = RequestEnvelope.from_bytes(raw)
        except FrameTooLarge as exc:
            logger.warning("bad request protocol=%s peer=%s reason=%s", protocol, peer_id, exc)
            return ResponseEnvelope.error(Status.BAD_REQUEST, str(exc))
        except DecodeError as exc:
            logger.warning("bad request protocol=%s peer=%s reason=%s", protocol, peer_id, exc)
            return ResponseEnvelope.error(Status.BAD_REQUEST, f"malformed request: {exc}")
        except StreamBroken as exc:
            logger.info("request abandoned protocol=%s peer=%s reason=%s", protocol, peer_id, exc)
            await release_stream(stream, reset=True)
            return None
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
