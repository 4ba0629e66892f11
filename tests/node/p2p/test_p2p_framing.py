"""u32 length-prefixed frames over an in-memory stand-in for a libp2p stream."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from libp2p.network.stream.exceptions import StreamEOF, StreamReset

from node.p2p.errors import FrameTooLarge, StreamBroken
from node.p2p.framing import FrameBuffer, read_frame, write_frame
from tests.node.p2p.p2p_testing import trio_test


class MemoryStream:
    """Serves preset bytes in small chunks, then ends the way a libp2p stream does."""

    def __init__(self, incoming: bytes = b"", chunk: int = 3, end: type[Exception] = StreamEOF):
        self.incoming = incoming
        self.chunk = chunk
        self.end = end
        self.written = b""

    async def read(self, n: int | None = None) -> bytes:
        if not self.incoming:
            raise self.end()
        size = min(self.chunk, len(self.incoming) if n is None else n)
        out, self.incoming = self.incoming[:size], self.incoming[size:]
        return out

    async def write(self, data: bytes) -> None:
        if self.end is StreamReset:
            raise StreamReset()
        self.written += data


async def _written(frames: list[bytes]) -> bytes:
    """The bytes a stream carries after ``frames`` were written to it (limit 300)."""
    out = MemoryStream()
    for frame in frames:
        await write_frame(out, frame, 300)
    return out.written


@given(st.lists(st.binary(max_size=300), max_size=5), st.integers(min_value=1, max_value=50))
def test_frames_round_trip_whatever_the_chunking(frames: list[bytes], chunk: int) -> None:
    @trio_test
    async def check() -> None:
        back = MemoryStream(await _written(frames), chunk=chunk)
        assert [await read_frame(back, 300) for _ in frames] == frames
        with pytest.raises(StreamBroken):
            await read_frame(back, 300)

    check()


@trio_test
async def test_oversized_prefix_is_refused_before_reading_the_body() -> None:
    stream = MemoryStream(b"\x00\x00\x01\x01" + b"z" * 257)
    with pytest.raises(FrameTooLarge, match="257 bytes exceeds the limit of 256"):
        await read_frame(stream, 256)
    assert len(stream.incoming) == 257


@trio_test
async def test_oversized_write_is_refused() -> None:
    with pytest.raises(FrameTooLarge):
        await write_frame(MemoryStream(), b"z" * 11, 10)


@trio_test
async def test_truncated_frames_and_resets_are_stream_broken() -> None:
    with pytest.raises(StreamBroken, match="2 of 4"):
        await read_frame(MemoryStream(b"\x00\x00"), 10)
    with pytest.raises(StreamBroken, match="3 of 8"):
        await read_frame(MemoryStream(b"\x00\x00\x00\x08abc"), 10)
    with pytest.raises(StreamBroken):
        await read_frame(MemoryStream(b"\x00", end=StreamReset), 10)
    with pytest.raises(StreamBroken):
        await write_frame(MemoryStream(end=StreamReset), b"x", 10)


class CountingStream(MemoryStream):
    """A :class:`MemoryStream` that counts the reads asked of it."""

    def __init__(self, incoming: bytes = b"", chunk: int = 3, end: type[Exception] = StreamEOF):
        super().__init__(incoming, chunk, end)
        self.reads = 0

    async def read(self, n: int | None = None) -> bytes:
        self.reads += 1
        return await super().read(n)


async def _drain(frames: FrameBuffer) -> list[bytes]:
    out = []
    while (frame := await frames.next()) is not None:
        out.append(frame)
    return out


@given(st.lists(st.binary(max_size=300), max_size=5), st.integers(min_value=1, max_value=700))
def test_buffered_frames_round_trip_whatever_the_chunking(frames: list[bytes], chunk: int) -> None:
    @trio_test
    async def check() -> None:
        stream = MemoryStream(await _written(frames), chunk=chunk)
        assert await _drain(FrameBuffer(stream, 300)) == frames

    check()


@trio_test
async def test_frames_that_arrived_together_take_one_read() -> None:
    data = await _written([b"one", b"two", b"three" * 50])
    stream = CountingStream(data, chunk=len(data))
    assert await _drain(FrameBuffer(stream, 300)) == [b"one", b"two", b"three" * 50]
    assert stream.reads == 2  # the data, then the clean end


@trio_test
async def test_buffered_reader_refuses_an_oversized_prefix_and_reads_no_further() -> None:
    stream = CountingStream(b"\x00\x00\x01\x01" + b"z" * 257, chunk=4)
    with pytest.raises(FrameTooLarge, match="257 bytes exceeds the limit of 256"):
        await FrameBuffer(stream, 256).next()
    assert (stream.reads, len(stream.incoming)) == (1, 257)


@trio_test
async def test_buffered_reader_tells_a_clean_end_from_a_cut_frame() -> None:
    assert await FrameBuffer(MemoryStream(b""), 10).next() is None
    with pytest.raises(StreamBroken, match="inside a frame"):
        await FrameBuffer(MemoryStream(b"\x00\x00"), 10).next()
    with pytest.raises(StreamBroken, match="inside a frame"):
        await FrameBuffer(MemoryStream(b"\x00\x00\x00\x08abc"), 10).next()
    with pytest.raises(StreamBroken, match="failed"):
        await FrameBuffer(MemoryStream(b"\x00", end=StreamReset), 10).next()
