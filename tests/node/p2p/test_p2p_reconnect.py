"""The stale pubsub stream reaper, against stand-ins for pubsub and the network.

The race it covers (a peer dialling back before its old connection is noticed dead) cannot be
produced on demand with real sockets, so its three cases are checked here directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from node.p2p.reconnect import StalePubsubStreamReaper
from tests.node.p2p.p2p_testing import peer_id_for, seeded_key, trio_test

PEER = peer_id_for(seeded_key(1))


@dataclass
class Muxed:
    peer_id: Any = PEER


@dataclass
class Conn:
    muxed_conn: Muxed = field(default_factory=Muxed)


@dataclass
class Stream:
    muxed_conn: Muxed


@dataclass
class Pubsub:
    peers: dict[Any, Stream] = field(default_factory=dict)
    dropped: list[Any] = field(default_factory=list)

    def _handle_dead_peer(self, peer_id: Any) -> None:
        self.dropped.append(peer_id)


@dataclass
class Network:
    live: list[Conn] = field(default_factory=list)

    def get_connections(self, peer_id: Any) -> list[Conn]:
        return list(self.live)


@trio_test
async def test_stream_on_the_dead_connection_is_dropped_when_a_new_one_lives() -> None:
    old, new = Conn(), Conn()
    pubsub = Pubsub({PEER: Stream(old.muxed_conn)})
    await StalePubsubStreamReaper(pubsub).disconnected(Network([new]), old)  # type: ignore[arg-type]
    assert pubsub.dropped == [PEER]


@trio_test
async def test_stream_on_a_live_connection_is_kept() -> None:
    old, new = Conn(), Conn()
    pubsub = Pubsub({PEER: Stream(new.muxed_conn)})
    await StalePubsubStreamReaper(pubsub).disconnected(Network([new]), old)  # type: ignore[arg-type]
    assert pubsub.dropped == []


@trio_test
async def test_a_peer_that_is_simply_gone_is_left_to_pubsub() -> None:
    old = Conn()
    pubsub = Pubsub({PEER: Stream(old.muxed_conn)})
    await StalePubsubStreamReaper(pubsub).disconnected(Network([]), old)  # type: ignore[arg-type]
    assert pubsub.dropped == []
    empty = Pubsub()
    await StalePubsubStreamReaper(empty).disconnected(Network([Conn()]), old)  # type: ignore[arg-type]
    assert empty.dropped == []
