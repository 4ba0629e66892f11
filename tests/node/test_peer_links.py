"""Per-peer consensus links: order, batching, retries after failures, and the queue bound.

The streams here are fakes that record what was written and fail on request; the clock is
trio's mock clock, so pauses between retries take no real time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from node.p2p import FrameTooLarge, StreamBroken
from node.peer_links import LinkSettings, PeerLinks
from node.wire import FrameBatch


class FakeNetwork:
    """Streams to peers; ``down`` peers refuse to open, ``fail_writes`` counts failures to come."""

    def __init__(self) -> None:
        self.batches: dict[int, list[tuple[bytes, ...]]] = {}
        self.opened: dict[int, int] = {}
        self.closed = 0
        self.down: set[int] = set()
        self.fail_writes = 0
        self.block_writes = False
        self.too_large = False
        self.delivered = trio.Event()

    async def open(self, peer: int) -> FakeStream:
        await trio.lowlevel.checkpoint()
        if peer in self.down:
            raise StreamBroken(f"node {peer} is down")
        self.opened[peer] = self.opened.get(peer, 0) + 1
        return FakeStream(self, peer)

    def frames(self, peer: int) -> list[bytes]:
        return [f for batch in self.batches.get(peer, []) for f in batch]


class FakeStream:
    def __init__(self, network: FakeNetwork, peer: int) -> None:
        self.network = network
        self.peer = peer

    async def send(self, frame: bytes) -> None:
        net = self.network
        if net.block_writes:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()
        if net.too_large:
            raise FrameTooLarge("frame too large")
        if net.fail_writes > 0:
            net.fail_writes -= 1
            raise StreamBroken("reset by peer")
        net.batches.setdefault(self.peer, []).append(FrameBatch.from_bytes(frame).frames)
        net.delivered.set()
        net.delivered = trio.Event()

    async def close(self) -> None:
        self.network.closed += 1


def run_links(
    peers: list[int],
    body: Callable[[PeerLinks, FakeNetwork], Awaitable[None]],
    settings: LinkSettings | None = None,
    network: FakeNetwork | None = None,
) -> FakeNetwork:
    net = network or FakeNetwork()

    async def main() -> None:
        links = PeerLinks(peers, net.open, settings)
        async with trio.open_nursery() as nursery:
            await nursery.start(links.run)
            await body(links, net)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return net


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


def test_frames_arrive_in_order_and_queued_frames_share_a_batch() -> None:
    async def body(links: PeerLinks, net: FakeNetwork) -> None:
        for i in range(3):
            links.send(2, b"f%d" % i)
        links.broadcast(b"all")
        await settle()
        links.send(3, b"late")
        await settle()

    net = run_links([2, 3], body)
    assert net.batches[2] == [(b"f0", b"f1", b"f2", b"all")]
    assert net.batches[3] == [(b"all",), (b"late",)]
    assert net.opened == {2: 1, 3: 1}


def test_a_batch_is_capped_by_bytes_but_a_large_frame_still_goes() -> None:
    async def body(links: PeerLinks, net: FakeNetwork) -> None:
        for frame in (b"a" * 6, b"b" * 6, b"c" * 20, b"d"):
            links.send(2, frame)
        await settle()

    net = run_links([2], body, LinkSettings(max_batch_bytes=13))
    assert net.batches[2] == [(b"a" * 6, b"b" * 6), (b"c" * 20,), (b"d",)]


def test_a_failed_write_is_retried_on_a_new_stream_without_reordering() -> None:
    async def body(links: PeerLinks, net: FakeNetwork) -> None:
        net.fail_writes = 2
        links.send(2, b"first")
        links.send(2, b"second")
        while not net.batches.get(2):
            await net.delivered.wait()
        links.send(2, b"third")
        await settle()

    net = run_links([2], body)
    assert net.frames(2) == [b"first", b"second", b"third"]
    assert net.opened[2] == 3
    assert net.closed >= 2


def test_an_unreachable_peer_keeps_the_newest_frames_and_gets_them_later() -> None:
    async def body(links: PeerLinks, net: FakeNetwork) -> None:
        net.down.add(2)
        for i in range(5):
            links.send(2, b"%d" % i)
        links.send(3, b"to three")
        await settle()
        assert (links.queued(2), links.dropped(2)) == (3, 2)
        assert net.frames(3) == [b"to three"]
        await trio.sleep(5)  # several retry pauses, all failing
        net.down.clear()
        while not net.batches.get(2):
            await net.delivered.wait()

    net = run_links([2, 3], body, LinkSettings(max_queued=3))
    assert net.frames(2) == [b"2", b"3", b"4"]


def test_a_peer_that_stops_reading_costs_its_stream() -> None:
    async def body(links: PeerLinks, net: FakeNetwork) -> None:
        net.block_writes = True
        links.send(2, b"stuck")
        await trio.sleep(1.5)  # past the write timeout
        net.block_writes = False
        while not net.batches.get(2):
            await net.delivered.wait()

    net = run_links([2], body, LinkSettings(write_timeout=1.0))
    assert net.frames(2) == [b"stuck"]
    assert net.opened[2] >= 2
    assert net.closed >= 1


def test_an_oversized_batch_is_dropped_not_retried_forever() -> None:
    async def body(links: PeerLinks, net: FakeNetwork) -> None:
        net.too_large = True
        links.send(2, b"huge")
        await settle()
        net.too_large = False
        links.send(2, b"next")
        await settle()

    net = run_links([2], body)
    assert net.frames(2) == [b"next"]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        LinkSettings(max_queued=0)
    with pytest.raises(ValueError, match="pauses"):
        LinkSettings(first_pause=2.0, max_pause=1.0)
