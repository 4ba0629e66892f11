"""Length-prefixed frames on a libp2p stream: a big-endian u32 length, then that many bytes.

The length is checked against the caller's limit before the reader waits for any of the body,
so a hostile prefix costs the reader at most what already arrived with it, not an allocation.
"""

from __future__ import annotations

import struct
from typing import Protocol

from libp2p.io.exceptions import IOException

from node.p2p.errors import FrameTooLarge, StreamBroken

PREFIX = struct.Struct(">I")


class ByteStream(Protocol):
    """The part of libp2p's ``INetStream`` used for framing."""

    async def read(self, n: int | None = None) -> bytes: ...

    async def write(self, data: bytes) -> None: ...


async def read_exactly(stream: ByteStream, size: int) -> bytes:
    """Read ``size`` bytes; raises :class:`StreamBroken` if the stream ends or fails first."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        try:
            chunk = await stream.read(remaining)
        except IOException as exc:
            raise StreamBroken(f"stream ended after {size - remaining} of {size} bytes") from exc
        if not chunk:
            raise StreamBroken(f"stream ended after {size - remaining} of {size} bytes")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


async def read_frame(stream: ByteStream, max_size: int) -> bytes:
    """Read one frame.

    Raises :class:`FrameTooLarge` when the announced length exceeds ``max_size`` (the body is
    left unread) and :class:`StreamBroken` when the stream ends or fails mid-frame.
    """
    return await read_exactly(stream, await read_length(stream, max_size))


async def read_length(stream: ByteStream, max_size: int) -> int:
    """Read a frame's length prefix only; raises like :func:`read_frame`, before any of the
    body is read. The caller reads the body with :func:`read_exactly`."""
    (size,) = PREFIX.unpack(await read_exactly(stream, PREFIX.size))
    if size > max_size:
        raise FrameTooLarge(f"frame of {size} bytes exceeds the limit of {max_size}")
    return int(size)


#: Bytes :class:`FrameBuffer` asks the stream for at once.
READ_CHUNK = 64 * 1024


class FrameBuffer:
    """The frames of a stream that carries many, read with as few stream reads as possible.

    Frames that arrive together (a sender's batch, or writes that queued up) come out of one
    read of up to :data:`READ_CHUNK` bytes instead of two reads each (prefix, then body). That
    matters on py-libp2p's yamux, which answers every read with a window update frame: with
    two reads per frame, each frame sent made the receiver send two frames back. At most one
    chunk beyond the frame being read is held.
    """

    def __init__(self, stream: ByteStream, max_size: int) -> None:
        self._stream = stream
        self._max = max_size
        self._buffer = bytearray()

    async def next(self) -> bytes | None:
        """The next frame; ``None`` when the writer closed the stream between frames.

        Raises :class:`FrameTooLarge` when the announced length exceeds the limit (nothing more
        is read) and :class:`StreamBroken` when the stream fails, or ends inside a frame.
        """
        buffer = self._buffer
        while len(buffer) < PREFIX.size:
            if not await self._fill(between_frames=not buffer):
                return None
        (size,) = PREFIX.unpack_from(buffer)
        if size > self._max:
            raise FrameTooLarge(f"frame of {size} bytes exceeds the limit of {self._max}")
        end = PREFIX.size + size
        while len(buffer) < end:
            await self._fill(between_frames=False, wanted=end - len(buffer))
        with memoryview(buffer) as view:  # one copy of the frame, not two
            frame = bytes(view[PREFIX.size : end])
        del buffer[:end]
        return frame

    async def _fill(self, *, between_frames: bool, wanted: int = 0) -> bool:
        """Append one read; False if the stream ended cleanly ``between_frames``."""
        try:
            chunk = await self._stream.read(max(READ_CHUNK, wanted))
        except EOFError:  # py-libp2p's StreamEOF: the writer closed the stream
            chunk = b""
        except IOException as exc:
            raise StreamBroken(f"stream failed: {exc}") from exc
        if chunk:
            self._buffer += chunk
            return True
        if between_frames:
            return False
        raise StreamBroken(f"stream ended inside a frame ({len(self._buffer)} bytes of it)")


async def write_frame(stream: ByteStream, data: bytes, max_size: int) -> None:
    """Write one frame; raises :class:`FrameTooLarge` or :class:`StreamBroken`."""
    if len(data) > max_size:
        raise FrameTooLarge(f"frame of {len(data)} bytes exceeds the limit of {max_size}")
    try:
        await stream.write(PREFIX.pack(len(data)) + data)
    except IOException as exc:
        raise StreamBroken(f"could not write frame: {exc}") from exc
