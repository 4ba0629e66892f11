"""The delaying relay: bytes arrive whole and in order, never before the delay."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from testnet.chaos.relay import Link, Relay, measure
from testnet.layout import free_ports


@pytest.fixture
def relay_link() -> Iterator[tuple[Relay, Link]]:
    listen, upstream = free_ports(2)
    link = Link(1, 2, None, ("127.0.0.1", listen), ("127.0.0.1", upstream))
    relay = Relay([link], seed=5)
    relay.start()
    yield relay, link
    relay.stop()


def test_the_added_delay_is_at_least_the_configured_one(relay_link: tuple[Relay, Link]) -> None:
    relay, link = relay_link
    found = measure(relay, link, None, 40, pings=5)
    assert found["configured_delay_ms"] == 40
    # Both directions are delayed, so a round trip gains at least twice the delay.
    assert found["rtt_with_delay_ms"] >= 80
    assert (relay.delay_ms, relay.jitter_ms) == (0, 0)


def test_jitter_never_reorders_the_stream(relay_link: tuple[Relay, Link]) -> None:
    relay, link = relay_link
    relay.set_delay(5, 30)
    payload = bytes(range(256)) * 400
    received = bytearray()
    with socket.create_server(link.upstream) as server:
        def sink() -> None:
            conn, _ = server.accept()
            with conn:
                while data := conn.recv(65536):
                    received.extend(data)

        reader = threading.Thread(target=sink)
        reader.start()
        with socket.create_connection(link.listen, timeout=10) as client:
            for start in range(0, len(payload), 1000):
                client.sendall(payload[start:start + 1000])
            client.shutdown(socket.SHUT_WR)
        reader.join(30)
    assert bytes(received) == payload
    assert relay.bytes[1, 2] == len(payload)


def test_a_dead_upstream_closes_the_inbound_connection(relay_link: tuple[Relay, Link]) -> None:
    _, link = relay_link
    with socket.create_connection(link.listen, timeout=10) as client:
        assert client.recv(1) == b""
