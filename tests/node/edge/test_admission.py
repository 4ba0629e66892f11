"""What a consensus node lets a genesis edge do: connect, follow headers and ask for fragments
under a requester's access token, nothing else.

A real one-node network with one edge listed in genesis; the edge's key is used from a bare
libp2p host, so the test can try what an edge process never does.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import trio

from consensus.messages import SyncRequest
from crypto.signing import SigningKey
from ledger.header_chain import HeaderBatch, HeaderRequest
from node.consensus_loop import CONSENSUS_PROTOCOL
from node.edge.protocol import HEADERS_PROTOCOL
from node.home import load_identity
from node.p2p import DialError, P2PHost, PeerAllowlist, RemoteError, parse_peer_id
from node.provision import NodeKeys
from node.service import NodeService
from node.storage import GET_PROTOCOL, PUT_PROTOCOL
from node.wire import FrameBatch
from testnet.layout import create_network
from tests.node.p2p.p2p_testing import PATIENCE, trio_test
from tests.node.test_service import register_tx


@trio_test
async def test_a_listed_edge_follows_headers_and_nothing_more(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="iomtshare.node.service")
    network = create_network(tmp_path / "net", 1, edges=1, round_timeout_ms=500)
    service = NodeService(load_identity(network.directory / "node1"))
    node = network.node(1)
    only_node = PeerAllowlist.of([parse_peer_id(node.peer_id)])
    edge = P2PHost(NodeKeys.load(network.directory / "edge1").node_key, only_node)
    stranger = P2PHost(SigningKey.generate(), only_node)
    async with trio.open_nursery() as nursery:
        with trio.fail_after(PATIENCE):
            [url] = await nursery.start(service.run)
            await nursery.start(edge.run)
            await nursery.start(stranger.run)
            _, raw = register_tx(network.chain_id, network.authority_key())
            async with httpx.AsyncClient(base_url=url, timeout=PATIENCE) as client:
                tx_id = (await client.post("/tx", json={"tx": raw.hex()})).json()["tx_id"]
                committed = await client.get(f"/tx/{tx_id}", params={"wait": PATIENCE})
                assert committed.status_code == 200

            with pytest.raises(DialError):
                await stranger.connect(node.p2p_address)
            await edge.connect(node.p2p_address)
            reply = await edge.request(
                parse_peer_id(node.peer_id), HEADERS_PROTOCOL, HeaderRequest(1, 10).to_bytes()
            )
            assert HeaderBatch.from_bytes(reply).headers[0].height == 1
            # A header request is a few bytes: a long one is refused from its length prefix.
            with pytest.raises(RemoteError, match="exceeds the limit"):
                await edge.request(parse_peer_id(node.peer_id), HEADERS_PROTOCOL, bytes(4096))
            with pytest.raises(RemoteError, match="not a genesis node"):
                await edge.request(parse_peer_id(node.peer_id), PUT_PROTOCOL, b"")
            # Fragment gets are answered (each is checked by its access token): b"" is none.
            with pytest.raises(RemoteError, match="malformed"):
                await edge.request(parse_peer_id(node.peer_id), GET_PROTOCOL, b"")
            link = await edge.open_stream(parse_peer_id(node.peer_id), CONSENSUS_PROTOCOL)
            await link.send(FrameBatch((SyncRequest(1, 1).to_bytes(),)).to_bytes())
            while not any("consensus link refused" in r.message for r in caplog.records):
                await trio.sleep(0.02)
        nursery.cancel_scope.cancel()
