"""Real py-libp2p hosts on loopback: gossip, request/response, the allowlist, shutdown."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import trio
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamEOF, StreamReset
from libp2p.peer.id import ID

from node.p2p import (
    DialError,
    GossipMessage,
    GossipSettings,
    GossipTooLarge,
    NotRunning,
    P2PError,
    P2PHost,
    PeerAllowlist,
    PeerRefused,
    RemoteError,
    RequestRejected,
    RequestTimeout,
    ResponseEnvelope,
    Status,
    StreamBroken,
)
from node.p2p.framing import read_frame
from tests.node.p2p_testing import (
    PATIENCE,
    TEST_CONFIG,
    TOPIC,
    all_tasks,
    build_peer,
    connect_all,
    host_group,
    running,
    seeded_key,
    trio_test,
    watch_logs,
)

ECHO = "/iomtshare/test/echo/1"


def serve_echo(host: P2PHost) -> None:
    async def echo(peer: ID, payload: bytes) -> bytes:
        return bytes(peer.to_bytes()) + b"|" + payload

    host.add_protocol(ECHO, echo)


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
async def test_request_response_round_trip() -> None:
    async with host_group(3, setup=serve_echo) as peers:
        client, server = peers[0].host, peers[2].host
        answer = await client.request(server.peer_id, ECHO, b"hello")
        assert answer == client.peer_id.to_bytes() + b"|hello"
        # Many concurrent requests on the same connection each get their own answer.
        results: dict[int, bytes] = {}

        async def one(i: int) -> None:
            results[i] = await client.request(server.peer_id, ECHO, b"%d" % i)

        async with trio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(one, i)
        assert results == {i: client.peer_id.to_bytes() + b"|%d" % i for i in range(20)}


def serve_failures(host: P2PHost) -> None:
    async def broken(peer: ID, payload: bytes) -> bytes:
        raise KeyError("secret internal detail")

    async def picky(peer: ID, payload: bytes) -> bytes:
        raise RequestRejected("record not granted to you")

    async def stalls(peer: ID, payload: bytes) -> bytes:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def huge(peer: ID, payload: bytes) -> bytes:
        return bytes(64 * 1024)

    host.add_protocol("/t/broken/1", broken)
    host.add_protocol("/t/picky/1", picky)
    host.add_protocol("/t/stalls/1", stalls)
    host.add_protocol("/t/huge/1", huge)
    serve_echo(host)


@trio_test
async def test_handler_failures_become_error_answers_and_host_keeps_serving() -> None:
    async with host_group(2, setup=serve_failures) as (client, server):
        target = server.host.peer_id
        with watch_logs() as logs:
            with pytest.raises(RemoteError) as broken:
                await client.host.request(target, "/t/broken/1", b"x")
            assert broken.value.code == Status.INTERNAL
            assert "secret" not in broken.value.detail
            assert logs.seen("request handler failed", "/t/broken/1")

        with pytest.raises(RemoteError) as picky:
            await client.host.request(target, "/t/picky/1", b"x")
        assert picky.value.code == Status.REJECTED
        assert picky.value.detail == "record not granted to you"

        with pytest.raises(RemoteError) as huge:
            await client.host.request(target, "/t/huge/1", b"x")
        assert huge.value.code == Status.INTERNAL
        assert "frame limit" in huge.value.detail

        with pytest.raises(RequestTimeout):
            await client.host.request(target, "/t/stalls/1", b"x", timeout=0.2)

        assert await client.host.request(target, ECHO, b"still here") == (
            client.host.peer_id.to_bytes() + b"|still here"
        )


async def _raw_exchange(client: P2PHost, server: ID, data: bytes) -> bytes:
    """Write raw bytes on the echo protocol and read back the first framed answer."""
    stream = await client.libp2p.new_stream(server, [TProtocol(ECHO)])
    await stream.write(data)
    answer = await read_frame(stream, 1 << 20)
    await stream.close()
    return answer


@trio_test
async def test_garbage_and_oversized_frames_get_clear_errors() -> None:
    async with host_group(2, setup=serve_echo) as (client, server):
        target = server.host.peer_id
        with trio.fail_after(PATIENCE):
            garbage = ResponseEnvelope.from_bytes(
                await _raw_exchange(client.host, target, b"\x00\x00\x00\x05hello")
            )
            assert garbage.status == Status.BAD_REQUEST
            assert "malformed request" in garbage.detail

            oversized = ResponseEnvelope.from_bytes(
                await _raw_exchange(client.host, target, b"\xff\xff\xff\xff")
            )
            assert oversized.status == Status.BAD_REQUEST
            assert "exceeds the limit" in oversized.detail

            # A frame cut short by the client: the server just drops the stream.
            stream = await client.host.libp2p.new_stream(target, [TProtocol(ECHO)])
            await stream.write(b"\x00\x00\x01\x00abc")
            await stream.close()

        assert await client.host.request(target, ECHO, b"ok") == (
            client.host.peer_id.to_bytes() + b"|ok"
        )


@trio_test
async def test_raw_tcp_garbage_does_not_hurt_the_host() -> None:
    async with host_group(2, setup=serve_echo) as (client, server):
        port = int(server.host.listen_addrs()[0].value_for_protocol("tcp"))
        for junk in (b"\x00" * 64, b"GET / HTTP/1.1\r\n\r\n", bytes(range(256)) * 8):
            with trio.fail_after(PATIENCE):
                tcp = await trio.open_tcp_stream("127.0.0.1", port)
                await tcp.send_all(junk)
                await tcp.aclose()
        assert await client.host.request(server.host.peer_id, ECHO, b"ok") == (
            client.host.peer_id.to_bytes() + b"|ok"
        )


@trio_test
async def test_outsider_cannot_connect_either_way() -> None:
    async with host_group(2) as members:
        member_keys = [m.key for m in members]
        outsider_key = seeded_key(99)
        # The outsider believes it belongs: it allows the members and itself.
        outsider = build_peer(outsider_key, [*member_keys, outsider_key])
        async with running(outsider):
            with watch_logs() as logs:
                with pytest.raises(DialError):
                    await outsider.host.connect(members[0].address)
                await logs.wait_for("refused", str(outsider.host.peer_id), "inbound")
            assert outsider.host.peer_id not in members[0].host.connected_peers()

            with pytest.raises(PeerRefused):
                await members[1].host.connect(outsider.address)
            with pytest.raises(PeerRefused):
                await members[1].host.request(outsider.host.peer_id, ECHO, b"x")
            assert outsider.host.peer_id not in members[1].host.connected_peers()


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
            await logs.wait_for("gossip dropped", "origin not in genesis")
        dropped = {"topic": TOPIC, "reason": "outsider_origin"}
        counts = [
            p.host.metrics.registry.get_sample_value("iomtshare_p2p_gossip_dropped_total", dropped)
            for p in (strict, other)
        ]
        assert any(c is not None and c >= 1 for c in counts)
        await lax.host.publish(TOPIC, b"genuine")
        assert (await strict.next_message()).data == b"genuine"
        assert (await other.next_message()).data == b"genuine"


@trio_test
async def test_operations_need_a_running_host() -> None:
    peer = build_peer(seeded_key(0), [seeded_key(0)])
    with pytest.raises(NotRunning):
        await peer.host.publish(TOPIC, b"x")
    with pytest.raises(NotRunning):
        await peer.host.connect("/ip4/127.0.0.1/tcp/1/p2p/" + str(peer.host.peer_id))
    assert peer.host.listen_addrs() == []


@trio_test
async def test_shutdown_leaves_no_tasks_and_closes_the_port() -> None:
    before = all_tasks()
    async with host_group(3, setup=serve_echo) as peers:
        ports = [int(p.host.listen_addrs()[0].value_for_protocol("tcp")) for p in peers]
        assert len(all_tasks()) > len(before)
        await peers[0].host.request(peers[1].host.peer_id, ECHO, b"busy")
    assert all_tasks() == before
    assert not any(p.host.running for p in peers)
    with pytest.raises(P2PError, match="runs once"):
        await peers[0].host.run()
    for port in ports:
        with pytest.raises(OSError, match="connect"):
            await trio.open_tcp_stream("127.0.0.1", port)


@trio_test
async def test_listening_on_a_busy_port_is_a_p2p_error() -> None:
    with trio.socket.socket() as blocker:
        await blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        key = seeded_key(0)
        allowlist = PeerAllowlist.from_verify_keys([key.verify_key])
        host = P2PHost(key, allowlist, replace(TEST_CONFIG, listen_port=port))
        async with trio.open_nursery() as nursery:
            with pytest.raises(P2PError):
                await nursery.start(host.run)
        assert not host.running


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
async def test_requests_beyond_the_inbound_limit_get_busy() -> None:
    entered = trio.Event()
    release = trio.Event()

    async def slow(peer: ID, payload: bytes) -> bytes:
        entered.set()
        await release.wait()
        return b"done"

    def setup(host: P2PHost) -> None:
        host.add_protocol("/t/slow/1", slow)

    config = replace(TEST_CONFIG, max_concurrent_inbound=1)
    async with host_group(2, setup=setup, config=config) as (client, server):
        target = server.host.peer_id
        first: list[bytes] = []

        async def first_request() -> None:
            first.append(await client.host.request(target, "/t/slow/1", b"1"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(first_request)
            with trio.fail_after(PATIENCE):
                await entered.wait()
            with pytest.raises(RemoteError) as busy:
                await client.host.request(target, "/t/slow/1", b"2")
            assert busy.value.code == Status.BUSY
            release.set()
        assert first == [b"done"]


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
async def test_a_restarted_member_is_reachable_again_at_its_new_address() -> None:
    keys = [seeded_key(i) for i in range(2)]
    stayer = build_peer(keys[0], keys, setup=serve_echo)
    async with running(stayer):
        first = build_peer(keys[1], keys, setup=serve_echo)
        async with running(first):
            await connect_all([stayer, first])
            assert await stayer.host.request(first.host.peer_id, ECHO, b"a")
        await stayer.host.wait_disconnected(first.host.peer_id, timeout=PATIENCE)
        with pytest.raises(StreamBroken):
            await stayer.host.request(first.host.peer_id, ECHO, b"b")
        # Same key, new process and port: the id is the same, the old address is dead.
        second = build_peer(keys[1], keys, setup=serve_echo)
        async with running(second):
            assert second.host.peer_id == first.host.peer_id
            await connect_all([second, stayer])
            answer = await stayer.host.request(second.host.peer_id, ECHO, b"c")
            assert answer == stayer.host.peer_id.to_bytes() + b"|c"
            await stayer.host.publish(TOPIC, b"welcome back")
            assert (await second.next_message()).data == b"welcome back"


async def _drain_until_closed(stream: Any) -> None:
    """Read until the server ends or resets the stream, i.e. it has dealt with our bytes."""
    try:
        while await stream.read(4096):
            pass
    except (StreamEOF, StreamReset):
        pass


@pytest.mark.parametrize(
    "protocol",
    ["/meshsub/1.1.0", "/meshsub/1.0.0", "/ipfs/id/push/1.0.0", "/ipfs/ping/1.0.0", ECHO],
)
def test_garbage_on_any_libp2p_protocol_leaves_the_host_running(protocol: str) -> None:
    """One malformed protobuf on gossipsub used to crash a py-libp2p host outright.

    The sender of garbage may lose its own gossip link to the victim (py-libp2p forgets its
    subscriptions); requests still work and gossip among the honest members is untouched.
    """

    @trio_test
    async def check() -> None:
        async with host_group(3, setup=serve_echo) as (attacker, victim, honest):
            target = victim.host.peer_id
            for junk in (b"\x05hello", b"\xff\xff\xff\xff\x0f", bytes(range(256))):
                with trio.fail_after(PATIENCE):
                    stream = await attacker.host.libp2p.new_stream(target, [TProtocol(protocol)])
                    await stream.write(junk)
                    await stream.close_write()
                    await _drain_until_closed(stream)
            answer = await attacker.host.request(target, ECHO, b"alive")
            assert answer == attacker.host.peer_id.to_bytes() + b"|alive"
            await victim.host.publish(TOPIC, b"from victim")
            assert (await honest.next_message()).data == b"from victim"
            await honest.host.publish(TOPIC, b"from honest")
            assert (await victim.next_message()).data == b"from honest"

    check()


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
async def test_dialling_a_dead_address_or_a_bad_one_fails_cleanly() -> None:
    async with host_group(2, connect=False) as (first, second):
        port = int(second.host.listen_addrs()[0].value_for_protocol("tcp"))
        with trio.socket.socket() as probe:
            await probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        assert dead_port != port
        with pytest.raises(DialError):
            await first.host.connect(f"/ip4/127.0.0.1/tcp/{dead_port}/p2p/{second.host.peer_id}")
        for bad in ("not an address", "/ip4/127.0.0.1/tcp/1", "/p2p/xyz"):
            with pytest.raises(P2PError):
                await first.host.connect(bad)
        # The wrong key answering at an address is caught by the Noise handshake.
        with pytest.raises(DialError):
            await first.host.connect(f"/ip4/127.0.0.1/tcp/{port}/p2p/{first.host.peer_id}")
        await first.host.connect(second.address)
        await first.host.wait_connected(second.host.peer_id)


@trio_test
async def test_metrics_follow_peers_gossip_requests_and_refusals() -> None:
    async with host_group(2, setup=serve_failures) as (client, server):
        metrics = server.host.metrics.registry
        sent = client.host.metrics.registry
        assert metrics.get_sample_value("iomtshare_p2p_connected_peers") == 1.0
        await client.host.publish(TOPIC, b"one")
        await server.next_message()
        on_topic = {"topic": TOPIC}
        assert metrics.get_sample_value("iomtshare_p2p_gossip_received_total", on_topic) == 1
        assert sent.get_sample_value("iomtshare_p2p_gossip_published_total", on_topic) == 1
        await client.host.request(server.host.peer_id, ECHO, b"x")
        with pytest.raises(RemoteError):
            await client.host.request(server.host.peer_id, "/t/picky/1", b"x")
        served = "iomtshare_p2p_requests_served_total"
        assert metrics.get_sample_value(served, {"protocol": ECHO, "status": "ok"}) == 1
        rejected = {"protocol": "/t/picky/1", "status": "rejected"}
        assert metrics.get_sample_value(served, rejected) == 1
        outbound = "iomtshare_p2p_requests_sent_total"
        assert sent.get_sample_value(outbound, {"protocol": ECHO, "outcome": "ok"}) == 1
        picky = {"protocol": "/t/picky/1", "outcome": "remote_error"}
        assert sent.get_sample_value(outbound, picky) == 1

        outsider_key = seeded_key(77)
        outsider = build_peer(outsider_key, [client.key, server.key, outsider_key])
        async with running(outsider):
            with watch_logs() as logs, pytest.raises(DialError):
                await outsider.host.connect(server.address)
            await logs.wait_for("refused", str(outsider.host.peer_id))
        refused = "iomtshare_p2p_refused_connections_total"
        assert metrics.get_sample_value(refused, {"direction": "inbound"}) == 1


@trio_test
async def test_topics_and_protocol_names_are_fixed_once_running() -> None:
    async with host_group(1) as (peer,):
        with pytest.raises(P2PError, match="before the host starts"):
            peer.host.add_topic("late/1", peer.next_message)  # type: ignore[arg-type]
        serve_echo(peer.host)
        with pytest.raises(P2PError, match="already has a handler"):
            serve_echo(peer.host)
