"""Long-lived, one-way frame streams: open once, then write frames with no answer.

A request/response exchange opens a stream, negotiates its protocol and waits for the answer:
about 4 ms on loopback. Writing one more frame on a stream that is already open costs about
0.5 ms, and frames arrive in the order they were written. Traffic that needs no answer and
must stay in order (consensus messages) uses these streams.

The sender gets a :class:`FrameWriter` from :meth:`FrameStreams.open`. The receiving host runs
the protocol's handler once per inbound stream with a :class:`FrameReader`; the handler reads
frames until the stream ends. A reader that stops reading pushes back on the writer through
the muxer's flow control, so a slow receiver slows its senders rather than buffering without
bound. Whatever the handler raises ends that stream only (logged, stream reset); the number of
inbound streams per protocol is capped.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from node.p2p.allowlist import PeerAllowlist
from node.p2p.atomic import open_stream, release_stream
from node.p2p.errors import P2PError, StreamBroken
from node.p2p.framing import FrameBuffer, write_frame

logger = logging.getLogger("iomtshare.node.p2p.streams")


class FrameReader:
    """The receiving end of one inbound frame stream."""

    def __init__(self, stream: INetStream, max_frame_bytes: int) -> None:
        self._stream = stream
        self._max = max_frame_bytes

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[bytes]:
        """Frames in order until the writer closes the stream. Raises :class:`FrameTooLarge`
        and :class:`StreamBroken` (a reset, or a stream cut inside a frame)."""
        frames = FrameBuffer(self._stream, self._max)
        while (frame := await frames.next()) is not None:
            yield frame


class FrameWriter:
    """The sending end of one outbound frame stream."""

    def __init__(self, stream: INetStream, max_frame_bytes: int) -> None:
        self._stream = stream
        self._max = max_frame_bytes

    async def send(self, frame: bytes) -> None:
        """Write one frame; raises :class:`FrameTooLarge` or :class:`StreamBroken`."""
        await write_frame(self._stream, frame, self._max)

    async def close(self) -> None:
        """Drop the stream (reset: frames not yet read by the peer may be lost)."""
        await release_stream(self._stream, reset=True)


#: ``handler(peer_id, reader)``: read ``reader`` until it ends.
FrameStreamHandler = Callable[[ID, FrameReader], Awaitable[None]]


class FrameStreams:
    """Opens and serves frame-stream protocols over one libp2p host."""

    def __init__(
        self,
        host: IHost,
        allowlist: PeerAllowlist,
        *,
        max_frame_bytes: int,
        open_timeout: float,
        max_inbound_per_protocol: int,
    ) -> None:
        self._host = host
        self._allowlist = allowlist
        self._max_frame = max_frame_bytes
        self._open_timeout = open_timeout
        self._max_inbound = max_inbound_per_protocol
        self._slots: dict[str, trio.Semaphore] = {}

    def register(self, protocol: str, handler: FrameStreamHandler) -> None:
        """Serve ``protocol`` with ``handler``; raises :class:`P2PError` if already registered."""
        if protocol in self._slots:
            raise P2PError(f"stream protocol {protocol} already has a handler")
        self._slots[protocol] = trio.Semaphore(self._max_inbound)
        self._host.set_stream_handler(
            TProtocol(protocol), functools.partial(self._serve, protocol, handler)
        )

    async def open(self, peer_id: ID, protocol: str) -> FrameWriter:
        """Open a stream to ``peer_id``; raises :class:`PeerRefused` for a non-member and
        :class:`StreamBroken` when it cannot be opened in time."""
        self._allowlist.check(peer_id, f"stream on {protocol}")
        stream = await open_stream(self._host, peer_id, [protocol], self._open_timeout)
        return FrameWriter(stream, self._max_frame)

    async def _serve(self, protocol: str, handler: FrameStreamHandler, stream: INetStream) -> None:
        peer_id = stream.muxed_conn.peer_id
        slots = self._slots[protocol]
        try:
            slots.acquire_nowait()
        except trio.WouldBlock:
            logger.warning("stream refused protocol=%s peer=%s reason=too many", protocol, peer_id)
            await release_stream(stream, reset=True)
            return
        clean = False
        try:
            await handler(peer_id, FrameReader(stream, self._max_frame))
            clean = True
        except StreamBroken as exc:
            logger.info("stream ended protocol=%s peer=%s reason=%s", protocol, peer_id, exc)
        except P2PError as exc:
            logger.warning("stream dropped protocol=%s peer=%s reason=%s", protocol, peer_id, exc)
        finally:
            slots.release()
            await release_stream(stream, reset=not clean)
