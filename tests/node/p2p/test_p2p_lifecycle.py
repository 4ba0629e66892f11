"""Host lifecycle and membership: start, dial, refuse outsiders, restart, shutdown, metrics."""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio

from node.p2p import (
    DialError,
    NotRunning,
    P2PError,
    P2PHost,
    PeerAllowlist,
    PeerRefused,
    RemoteError,
    StreamBroken,
)
from tests.node.p2p.p2p_testing import (
    ECHO,
    PATIENCE,
    TEST_CONFIG,
    TOPIC,
    all_tasks,
    build_peer,
    connect_all,
    host_group,
    running,
    seeded_key,
    serve_echo,
    serve_failures,
    trio_test,
    watch_logs,
)


@trio_test
async def test_operations_need_a_running_host() -> None:
    peer = build_peer(seeded_key(0), [seeded_key(0)])
    with pytest.raises(NotRunning):
        await peer.host.publish(TOPIC, b"x")
    with pytest.raises(NotRunning):
        await peer.host.connect("/ip4/127.0.0.1/tcp/1/p2p/" + str(peer.host.peer_id))
    assert peer.host.listen_addrs() == []


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
async def test_topics_and_protocol_names_are_fixed_once_running() -> None:
    async with host_group(1) as (peer,):
        with pytest.raises(P2PError, match="before the host starts"):
            peer.host.add_topic("late/1", peer.next_message)  # type: ignore[arg-type]
        serve_echo(peer.host)
        with pytest.raises(P2PError, match="already has a handler"):
            serve_echo(peer.host)


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
