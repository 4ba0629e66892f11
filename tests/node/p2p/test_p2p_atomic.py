"""Cancelled writers must not corrupt a connection (node.p2p.atomic).

Without atomic writes, a request cancelled while its frame is being encrypted and written
leaves the Noise session one nonce ahead of what the peer received, and the next message on
that connection fails authentication, which tears down every stream on it.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import replace

import trio

from node.p2p import FrameReader, P2PError, P2PHost
from tests.node.p2p.p2p_testing import (
    ECHO,
    PATIENCE,
    TEST_CONFIG,
    host_group,
    serve_echo,
    trio_test,
)

STREAM = "/iomtshare/test/atomic/1"
ROUNDS = 150
PAYLOAD = b"y" * 20_000


@trio_test
async def test_cancelled_requests_leave_the_connection_and_its_streams_intact() -> None:
    send, frames = trio.open_memory_channel[bytes](math.inf)

    async def collect(peer: object, reader: FrameReader) -> None:
        async for frame in reader:
            await send.send(frame)

    def setup(host: P2PHost) -> None:
        serve_echo(host)
        host.add_stream_protocol(STREAM, collect)

    async with host_group(2, setup=setup) as (client, server):
        target = server.host.peer_id
        writer = await client.host.open_stream(target, STREAM)

        async def cut_short() -> None:
            # Cancelled almost at once: often in the middle of writing its request.
            with trio.move_on_after(0.0005), contextlib.suppress(P2PError):
                await client.host.request(target, ECHO, PAYLOAD, timeout=0.5)

        for i in range(ROUNDS):
            async with trio.open_nursery() as nursery:
                for _ in range(3):
                    nursery.start_soon(cut_short)
                await writer.send(b"frame %d" % i)
        with trio.fail_after(PATIENCE):
            received = [await frames.receive() for _ in range(ROUNDS)]
        assert received == [b"frame %d" % i for i in range(ROUNDS)]
        # The connection still carries new streams.
        again = await client.host.open_stream(target, STREAM)
        await again.send(b"after")
        with trio.fail_after(PATIENCE):
            assert await frames.receive() == b"after"


@trio_test
async def test_cancelled_writes_do_not_break_the_other_streams() -> None:
    send, frames = trio.open_memory_channel[bytes](math.inf)

    async def collect(peer: object, reader: FrameReader) -> None:
        with contextlib.suppress(P2PError):  # the cut-short stream ends in a broken frame
            async for frame in reader:
                if frame.startswith(b"frame"):
                    await send.send(frame)

    def setup(host: P2PHost) -> None:
        host.add_stream_protocol(STREAM, collect)

    big_frames = replace(TEST_CONFIG, max_frame_bytes=1 << 20)
    async with host_group(2, setup=setup, config=big_frames) as (client, server):
        target = server.host.peer_id
        steady = await client.host.open_stream(target, STREAM)
        for i in range(ROUNDS // 3):
            doomed = await client.host.open_stream(target, STREAM)
            # Cancelled in the middle of a large write (several Noise messages).
            with trio.move_on_after(0.0005), contextlib.suppress(P2PError):
                await doomed.send(b"x" * 500_000)
            await doomed.close()
            await steady.send(b"frame %d" % i)
        with trio.fail_after(PATIENCE):
            received = [await frames.receive() for _ in range(ROUNDS // 3)]
        assert received == [b"frame %d" % i for i in range(ROUNDS // 3)]
