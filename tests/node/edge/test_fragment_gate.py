"""A genesis edge's fragment gets are rate-limited per edge before any token is checked."""

from __future__ import annotations

import dataclasses

import pytest
import trio

from crypto.signing import SigningKey
from ledger.genesis import EdgeInfo
from node.edge.protocol import HeaderRequestsLimited
from node.fragment_service import EDGE_GET_BURST, MAX_GET_REQUEST_BYTES, FragmentService
from node.p2p import RequestRejected, parse_peer_id
from node.p2p.identity import peer_id_of
from node.storage import GET_PROTOCOL
from tests.node.app_world import AppWorld
from tests.node.edge.test_edge_submit import Clock
from tests.node.edge.test_fetch_relay import CapturingHost, NoPeers
from tests.node.test_fetch_auth import granted_pair
from tests.node.test_storage import fresh_keeper, signed_fetch


def test_an_edge_asking_too_often_is_refused_typed_and_counted(world: AppWorld) -> None:
    _, requester, record_id = granted_pair(world)
    keeper = fresh_keeper(world, 2)
    fragment = world.stored[record_id].fragments[1].to_bytes()
    keeper.keep(record_id, fragment, 1)
    edge_key = SigningKey.generate()
    edge_peer = str(peer_id_of(edge_key.verify_key).to_base58())
    edges = (EdgeInfo(edge_peer, edge_key.verify_key.raw),)
    genesis = dataclasses.replace(world.genesis, edges=edges)

    async def no_commit(deadline: float) -> bool:
        return False

    clock = Clock()
    service = FragmentService(keeper, genesis, NoPeers(), no_commit, clock)  # type: ignore[arg-type]
    host = CapturingHost()
    service.register(host)  # type: ignore[arg-type]
    # A get is a record id and a token: anything bigger is refused before it is read.
    assert host.limits[GET_PROTOCOL] == MAX_GET_REQUEST_BYTES
    edge = parse_peer_id(edge_peer)

    async def run() -> None:
        get = host.handlers[GET_PROTOCOL]
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            for _ in range(EDGE_GET_BURST):
                with pytest.raises(RequestRejected, match="malformed"):
                    await get(edge, b"junk")
            fetch = signed_fetch(world, requester, record_id)
            with pytest.raises(HeaderRequestsLimited, match="too many fragment requests"):
                await get(edge, fetch.to_bytes())
            assert service.edge_gate.refused == {edge_peer: 1}
            clock.now += 1.0  # refilled: the same fetch, not used up by the refusal, is served
            assert await get(edge, fetch.to_bytes()) == fragment
            nursery.cancel_scope.cancel()

    trio.run(run)
