"""Light peers (admitted, not validators): their share of inbound requests, request size
limits checked from the length prefix, read deadlines, and gossip they may not publish."""

from __future__ import annotations

import logging
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace

import pytest
import trio
from libp2p.custom_types import TProtocol
from libp2p.io.exceptions import IOException
from libp2p.peer.id import ID

from node.p2p import P2PConfig, P2PError, P2PHost, RemoteError, ResponseEnvelope, Status
from node.p2p.framing import read_frame
from node.p2p.quiet_log import QuietLog
from tests.node.p2p.p2p_testing import (
    ECHO,
    PATIENCE,
    TEST_CONFIG,
    TOPIC,
    Peer,
    build_peer,
    seeded_key,
    serve_echo,
    trio_test,
    watch_logs,
)

HOLD = "/t/hold/1"
SMALL = "/t/small/1"
SMALL_LIMIT = 16

VALIDATOR, OTHER_VALIDATOR, EDGE = (seeded_key(i) for i in range(3))
EVERYONE = (VALIDATOR, OTHER_VALIDATOR, EDGE)

# Four slots in all, two for any light peer; a server that, unless the read deadline works,
# would wait far longer than PATIENCE for a request frame.
LIMITS = replace(
    TEST_CONFIG,
    max_concurrent_inbound=4,
    max_inbound_per_light_peer=2,
    request_timeout=4 * PATIENCE,
    request_read_timeout=0.5,
)


class Holder:
    """A protocol whose requests stay in their handler until released."""

    def __init__(self) -> None:
        self.entered = 0
        self.release = trio.Event()
        self.changed = trio.Event()

    def bump(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def hold(self, peer: ID, payload: bytes) -> bytes:
        self.entered += 1
        self.bump()
        await self.release.wait()
        return b"held"

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        with trio.fail_after(PATIENCE):
            while not condition():
                await self.changed.wait()


@asynccontextmanager
async def around_a_validator(
    config: P2PConfig = TEST_CONFIG, setup: Callable[[P2PHost], None] | None = None
) -> AsyncIterator[tuple[Peer, Peer, Peer]]:
    """A validator host that knows who validates (itself and OTHER_VALIDATOR), with that other
    validator and an edge connected to it; the other two take every member as a validator."""
    middle = build_peer(
        VALIDATOR, EVERYONE, config=config, setup=setup, validators=[VALIDATOR, OTHER_VALIDATOR]
    )
    validator = build_peer(OTHER_VALIDATOR, EVERYONE)
    edge = build_peer(EDGE, EVERYONE)
    async with trio.open_nursery() as nursery:
        for peer in (middle, validator, edge):
            await nursery.start(peer.host.run)
        with trio.fail_after(PATIENCE):
            await validator.host.connect(middle.address)
            await edge.host.connect(middle.address)
        yield middle, validator, edge
        nursery.cancel_scope.cancel()


def server_and_clients(holder: Holder) -> AbstractAsyncContextManager[tuple[Peer, Peer, Peer]]:
    """:func:`around_a_validator` with :data:`LIMITS`, serving echo, HOLD and SMALL."""

    def setup(host: P2PHost) -> None:
        serve_echo(host)
        host.add_protocol(HOLD, holder.hold)
        host.add_protocol(SMALL, holder.hold, max_request_bytes=SMALL_LIMIT)

    return around_a_validator(LIMITS, setup)


@trio_test
async def test_a_light_peer_holding_its_share_cannot_starve_a_validator() -> None:
    holder = Holder()
    async with server_and_clients(holder) as (server, validator, edge):
        target = server.host.peer_id
        busy: list[RemoteError] = []

        async def edge_request() -> None:
            try:
                await edge.host.request(target, HOLD, b"mine", timeout=4 * PATIENCE)
            except RemoteError as exc:
                busy.append(exc)
                holder.bump()

        async with trio.open_nursery() as nursery:
            # The edge tries to take the whole pool of four slots.
            for _ in range(4):
                nursery.start_soon(edge_request)
            await holder.wait_until(lambda: holder.entered + len(busy) == 4)
            assert holder.entered == 2
            assert [exc.code for exc in busy] == [Status.BUSY, Status.BUSY]
            # The validator is still served while the edge holds its two slots.
            answer = await validator.host.request(target, ECHO, b"still served")
            assert answer == validator.host.peer_id.to_bytes() + b"|still served"
            holder.release.set()


@trio_test
async def test_an_oversized_length_prefix_is_refused_before_the_body_is_read() -> None:
    holder = Holder()
    async with server_and_clients(holder) as (server, _, edge):
        target = server.host.peer_id
        with trio.fail_after(PATIENCE):
            # A prefix announcing more than the protocol takes, and no body at all: the answer
            # can only come from the prefix.
            stream = await edge.host.libp2p.new_stream(target, [TProtocol(SMALL)])
            await stream.write(struct.pack(">I", 1000))
            answer = ResponseEnvelope.from_bytes(await read_frame(stream, 1 << 20))
        assert answer.status == Status.BAD_REQUEST
        assert "exceeds the limit" in answer.detail
        assert holder.entered == 0

        with pytest.raises(RemoteError) as refused:
            await edge.host.request(target, SMALL, bytes(SMALL_LIMIT + 1))
        assert refused.value.code == Status.BAD_REQUEST
        holder.release.set()
        assert await edge.host.request(target, SMALL, bytes(SMALL_LIMIT)) == b"held"


@trio_test
async def test_a_request_frame_trickling_in_is_dropped_at_its_read_deadline() -> None:
    holder = Holder()
    async with server_and_clients(holder) as (server, _, edge):
        target = server.host.peer_id
        with watch_logs() as logs, trio.fail_after(PATIENCE):
            stream = await edge.host.libp2p.new_stream(target, [TProtocol(HOLD)])
            await stream.write(struct.pack(">I", 100) + b"x")
            # The server gives up on the frame long before its 80 s handler timeout.
            with pytest.raises((P2PError, IOException, EOFError)):
                await read_frame(stream, 1 << 20)
            await logs.wait_for("frame not read within its deadline")
        assert holder.entered == 0


def _dropped(host: P2PHost, reason: str) -> float:
    value = host.metrics.registry.get_sample_value(
        "iomtshare_p2p_gossip_dropped_total", {"topic": TOPIC, "reason": reason}
    )
    return value or 0.0


@trio_test
async def test_gossip_from_a_light_peer_is_neither_delivered_nor_relayed() -> None:
    # edge -- relay -- receiver; only the relay knows the edge is no validator. The receiver
    # would take the edge's gossip if the relay passed it on.
    async with around_a_validator() as (relay, receiver, edge):
        with trio.fail_after(PATIENCE):
            await edge.host.wait_for_gossip_peer(relay.host.peer_id, TOPIC)
            await relay.host.wait_for_gossip_peer(receiver.host.peer_id, TOPIC)
        with watch_logs() as logs:
            for n in range(5):
                await edge.host.publish(TOPIC, b"edge says %d" % n)
            with trio.fail_after(PATIENCE):
                # Until the relay has dealt with all five (dropped or, wrongly, delivered).
                while (
                    _dropped(relay.host, "outsider_origin")
                    + relay.inbox[TOPIC].statistics().current_buffer_used
                    < 5
                ):
                    await trio.sleep(0.01)
        assert relay.inbox[TOPIC].statistics().current_buffer_used == 0
        # Refused five times, logged once.
        edge_id = str(edge.host.peer_id)
        assert len([m for m in logs.messages if "gossip dropped" in m and edge_id in m]) == 1
        # What the relay publishes next reaches the receiver, and nothing came before it.
        await relay.host.publish(TOPIC, b"validator says")
        assert (await receiver.next_message()).data == b"validator says"
        assert receiver.inbox[TOPIC].statistics().current_buffer_used == 0


def test_quiet_log_logs_once_per_key_per_burst(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    quiet = QuietLog(logging.getLogger("test.quiet"), 10.0, lambda: now[0])
    with caplog.at_level("WARNING", logger="test.quiet"):
        assert quiet.warning("a", "refused %s", "a")
        assert not quiet.warning("a", "refused %s", "a")
        assert quiet.warning("b", "refused %s", "b")
        now[0] = 9.9
        assert not quiet.warning("a", "refused %s", "a")
        now[0] = 10.0
        assert quiet.warning("a", "refused %s", "a")
    assert caplog.messages == [
        "refused a",
        "refused b",
        "refused a (2 similar left out since the last such line)",
    ]


def test_config_refuses_a_zero_share_or_read_timeout() -> None:
    with pytest.raises(P2PError):
        P2PConfig(max_inbound_per_light_peer=0)
    with pytest.raises(P2PError):
        P2PConfig(request_read_timeout=0)
