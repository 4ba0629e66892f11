"""Length-prefixed frames on a libp2p stream: a big-endian u32 length, then that many bytes.

The length is checked against the caller's limit before any of the body is read, so a hostile
prefix costs the reader four bytes, not an allocation.
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


async def next_frame(stream: ByteStream, max_size: int) -> bytes | None:
    """Read the next frame of a stream that carries many; ``None`` when the writer closed the
    stream before starting another frame.

    Raises like :func:`read_frame` otherwise (a reset, or an end inside a frame, is
    :class:`StreamBroken`).
    """
    try:
        head = await stream.read(PREFIX.size)
    except EOFError:  # py-libp2p's StreamEOF: a clean close
        return None
    except IOException as exc:
        raise StreamBroken(f"stream failed between frames: {exc}") from exc
    if not head:
        return None
    if len(head) < PREFIX.size:
        head += await read_exactly(stream, PREFIX.size - len(head))
    (size,) = PREFIX.unpack(head)
    if size > max_size:
        raise FrameTooLarge(f"frame of {size} bytes exceeds the limit of {max_size}")
    return await read_exactly(stream, size)


async def write_frame(stream: ByteStream, data: bytes, max_size: int) -> None:
    """Write one frame; raises :class:`FrameTooLarge` or :class:`StreamBroken`."""
    if len(data) > max_size:
        raise FrameTooLarge(f"frame of {len(data)} bytes exceeds the limit of {max_size}")
    try:
        await stream.write(PREFIX.pack(len(data)) + data)
    except IOException as exc:
        raise StreamBroken(f"could not write frame: {exc}") from exc
