"""One-way frame streams between real hosts: order, clean ends, oversized frames, members only."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import trio
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from node.p2p import FrameReader, P2PHost, PeerRefused
from node.p2p.framing import PREFIX
from tests.node.p2p.p2p_testing import (
    PATIENCE,
    TEST_CONFIG,
    host_group,
    peer_id_for,
    seeded_key,
    trio_test,
    watch_logs,
)

STREAM = "/iomtshare/test/stream/1"


class Collector:
    """A stream handler that records every frame and every stream's end."""

    def __init__(self) -> None:
        self.send, self.frames = trio.open_memory_channel[tuple[ID, bytes]](math.inf)
        self.ended = 0
        self.changed = trio.Event()

    async def handle(self, peer: ID, reader: FrameReader) -> None:
        try:
            async for frame in reader:
                await self.send.send((peer, frame))
        finally:
            self.ended += 1
            self.changed.set()
            self.changed = trio.Event()

    async def next(self) -> tuple[ID, bytes]:
        with trio.fail_after(PATIENCE):
            return await self.frames.receive()

    async def wait_ended(self, count: int) -> None:
        with trio.fail_after(PATIENCE):
            while self.ended < count:
                await self.changed.wait()


def serving(collector: Collector) -> Callable[[P2PHost], None]:
    def setup(host: P2PHost) -> None:
        host.add_stream_protocol(STREAM, collector.handle)

    return setup


@trio_test
async def test_frames_arrive_in_order_from_the_right_peer_and_the_end_is_clean() -> None:
    collector = Collector()
    async with host_group(2, setup=serving(collector)) as (client, server):
        writer = await client.host.open_stream(server.host.peer_id, STREAM)
        for i in range(50):
            await writer.send(b"frame %d" % i)
        got = [await collector.next() for _ in range(50)]
        assert {peer for peer, _ in got} == {client.host.peer_id}
        assert [frame for _, frame in got] == [b"frame %d" % i for i in range(50)]
        await writer.close()
        await collector.wait_ended(1)


@trio_test
async def test_an_oversized_frame_ends_only_that_stream() -> None:
    collector = Collector()
    async with host_group(2, setup=serving(collector)) as (client, server):
        with watch_logs() as logs:
            raw = await client.host.libp2p.new_stream(server.host.peer_id, [TProtocol(STREAM)])
            await raw.write(PREFIX.pack(TEST_CONFIG.max_frame_bytes + 1))
            await collector.wait_ended(1)
            assert logs.seen("stream dropped", "exceeds the limit")
        again = await client.host.open_stream(server.host.peer_id, STREAM)
        await again.send(b"still served")
        assert (await collector.next())[1] == b"still served"


@trio_test
async def test_streams_open_only_to_members() -> None:
    collector = Collector()
    async with host_group(2, setup=serving(collector)) as (client, _):
        outsider = peer_id_for(seeded_key(99))
        with pytest.raises(PeerRefused):
            await client.host.open_stream(outsider, STREAM)
