"""Request/response between real hosts: answers, errors, limits, garbage on the protocols."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import trio
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamEOF, StreamReset
from libp2p.peer.id import ID

from node.p2p import (
    P2PHost,
    RemoteError,
    RequestTimeout,
    ResponseEnvelope,
    Status,
)
from node.p2p.framing import read_frame
from tests.node.p2p.p2p_testing import (
    ECHO,
    PATIENCE,
    TEST_CONFIG,
    TOPIC,
    host_group,
    serve_echo,
    serve_failures,
    trio_test,
    watch_logs,
)


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
