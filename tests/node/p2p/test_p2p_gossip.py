"""Gossip among real hosts: delivery, limits, bursts, failing handlers, outsiders."""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio

from node.p2p import (
    GossipMessage,
    GossipSettings,
    GossipTooLarge,
)
from tests.node.p2p.p2p_testing import (
    PATIENCE,
    TEST_CONFIG,
    TOPIC,
    build_peer,
    connect_all,
    host_group,
    running,
    seeded_key,
    trio_test,
    watch_logs,
)


@trio_test
async def test_gossip_reaches_every_member() -> None:
    async with host_group(4) as peers:
        await peers[0].host.publish(TOPIC, b"block 1")
        for peer in peers[1:]:
            message = await peer.next_message()
            assert message.data == b"block 1"
            assert message.topic == TOPIC
            assert message.origin == peers[0].host.peer_id


@trio_test
async def test_publisher_does_not_receive_its_own_gossip() -> None:
    async with host_group(2) as (first, second):
        await first.host.publish(TOPIC, b"mine")
        await second.host.publish(TOPIC, b"theirs")
        assert (await first.next_message()).data == b"theirs"
        assert (await second.next_message()).data == b"mine"
        # "mine" was published before "theirs" came back, so it would already be queued.
        assert first.inbox[TOPIC].statistics().current_buffer_used == 0


@trio_test
async def test_oversized_gossip_is_refused_locally() -> None:
    async with host_group(2) as (first, _):
        with pytest.raises(GossipTooLarge):
            await first.host.publish(TOPIC, bytes(16 * 1024 + 1))


@trio_test
async def test_oversized_gossip_from_a_peer_is_dropped() -> None:
    """A member configured with a larger limit cannot push big messages onto the others."""
    keys = [seeded_key(i) for i in range(2)]
    roomy = replace(TEST_CONFIG, gossip=GossipSettings(max_message_bytes=64 * 1024))
    sender = build_peer(keys[0], keys, config=roomy)
    receiver = build_peer(keys[1], keys)
    async with running(sender), running(receiver):
        await connect_all([sender, receiver])
        with watch_logs() as logs:
            await sender.host.publish(TOPIC, bytes(20 * 1024))
            await logs.wait_for("gossip dropped", "size 20480 > 16384")
        await sender.host.publish(TOPIC, b"small")
        assert (await receiver.next_message()).data == b"small"


@trio_test
async def test_a_failing_gossip_handler_does_not_stop_its_topic() -> None:
    faulty = "iomtshare/test/faulty/1"
    good: list[bytes] = []
    got_good = trio.Event()

    async def handler(message: GossipMessage) -> None:
        if message.data == b"bad":
            raise ValueError("cannot decode")
        good.append(message.data)
        got_good.set()

    keys = [seeded_key(i) for i in range(2)]
    sender = build_peer(keys[0], keys, topics=(TOPIC, faulty))
    receiver = build_peer(keys[1], keys, setup=lambda host: host.add_topic(faulty, handler))
    async with running(sender), running(receiver):
        await connect_all([sender, receiver], topics=(TOPIC, faulty))
        with watch_logs() as logs:
            await sender.host.publish(faulty, b"bad")
            await logs.wait_for("gossip handler failed", faulty)
        await sender.host.publish(faulty, b"good")
        with trio.fail_after(PATIENCE):
            await got_good.wait()
        assert good == [b"good"]


@trio_test
async def test_a_burst_of_gossip_is_delivered_whole() -> None:
    """Far more messages than py-libp2p's 32-deep per-peer and per-topic queues, in one go."""
    async with host_group(3) as peers:
        sent = [b"vote %d" % i for i in range(100)]
        for data in sent:
            await peers[0].host.publish(TOPIC, data)
        for peer in peers[1:]:
            received = [(await peer.next_message()).data for _ in sent]
            assert sorted(received) == sorted(sent)


@trio_test
async def test_outsider_gossip_relayed_by_a_lax_member_is_dropped() -> None:
    """A member that wrongly admits an outsider relays its gossip; the others drop it."""
    keys = [seeded_key(i) for i in range(3)]
    outsider_key = seeded_key(50)
    strict = build_peer(keys[0], keys)
    lax = build_peer(keys[1], [*keys, outsider_key])
    other = build_peer(keys[2], keys)
    outsider = build_peer(outsider_key, [*keys, outsider_key])

    async with running(strict), running(lax), running(other), running(outsider):
        await connect_all([strict, lax, other])
        await outsider.host.connect(lax.address)
        with trio.fail_after(PATIENCE):
            await outsider.host.wait_for_gossip_peer(lax.host.peer_id, TOPIC)
        with watch_logs() as logs:
            await outsider.host.publish(TOPIC, b"forged")
            relayed = await lax.next_message()
            assert relayed.origin == outsider.host.peer_id
            await logs.wait_for("gossip dropped", "origin is not a validator")
        dropped = {"topic": TOPIC, "reason": "outsider_origin"}
        counts = [
            p.host.metrics.registry.get_sample_value("iomtshare_p2p_gossip_dropped_total", dropped)
            for p in (strict, other)
        ]
        assert any(c is not None and c >= 1 for c in counts)
        await lax.host.publish(TOPIC, b"genuine")
        assert (await strict.next_message()).data == b"genuine"
        assert (await other.next_message()).data == b"genuine"
