"""A real edge service over libp2p between a lying and an honest consensus node.

The liar holds genesis node 1's key (so the edge admits it) and answers every header request
with a well-linked header whose commit QC is signed by keys that are not the validators'. The
edge must refuse and count each such batch, and still follow the honest node's chain.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import trio
from libp2p.peer.id import ID

from crypto.signing import SigningKey
from ledger.genesis import EdgeInfo
from ledger.header_chain import CertifiedHeader, HeaderBatch, HeaderRequest
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.qc import CommitSignature, commit_vote_payload
from ledger.testing import ChainFixture
from node.config import NodeConfig
from node.edge.protocol import HEADERS_PROTOCOL, header_server
from node.edge.service import EdgeIdentity, EdgeService
from node.p2p import P2PHost, PeerAllowlist, parse_peer_id
from node.p2p.identity import peer_id_of
from testnet.layout import free_ports

BLOCKS = 5
PATIENCE = 30.0


def peer_of(key: SigningKey) -> str:
    return str(peer_id_of(key.verify_key).to_base58())


def forged_at(fixture: ChainFixture, ledger: Ledger, height: int) -> CertifiedHeader:
    """A header at ``height`` linking to the real block before it, with an outsiders' QC."""
    model = ledger.block(min(height, ledger.height))
    assert model is not None
    previous = ledger.block(height - 1)
    prev_hash = previous.block.hash() if previous is not None else fixture.genesis.hash()
    header = dataclasses.replace(
        model.block.header, height=height, prev_hash=prev_hash, state_root=b"\x66" * 32
    )
    payload = commit_vote_payload(fixture.chain_id, height, 0, header.hash())
    signatures = tuple(
        CommitSignature(i, SigningKey.generate().sign(payload))
        for i in range(1, fixture.genesis.quorum + 1)
    )
    return CertifiedHeader(
        header,
        dataclasses.replace(
            model.commit_qc, height=height, round=0, block_hash=header.hash(), signatures=signatures
        ),
    )


def test_edge_refuses_a_lying_node_and_follows_the_honest_one(tmp_path: Path) -> None:
    fixture = ChainFixture(4)
    edge_key = SigningKey.generate()
    nodes = tuple(
        dataclasses.replace(node, peer_id=peer_of(key))
        for node, key in zip(fixture.genesis.nodes, fixture.node_keys, strict=True)
    )
    edges = (EdgeInfo(peer_of(edge_key), edge_key.verify_key.raw),)
    # Real peer ids in genesis, set before any block names its hash.
    fixture.genesis = dataclasses.replace(fixture.genesis, nodes=nodes, edges=edges)
    ledger = Ledger.from_store(MemoryStore(), fixture.genesis)
    for _ in range(BLOCKS):
        fixture.commit(ledger)

    async def lie(peer: ID, payload: bytes) -> bytes:
        request = HeaderRequest.from_bytes(payload)
        return HeaderBatch((forged_at(fixture, ledger, request.start),)).to_bytes()

    edge_only = PeerAllowlist.of([parse_peer_id(edges[0].peer_id)])
    liar = P2PHost(fixture.node_keys[0], edge_only)
    liar.add_protocol(HEADERS_PROTOCOL, lie)
    honest = P2PHost(fixture.node_keys[1], edge_only)
    honest.add_protocol(HEADERS_PROTOCOL, header_server(ledger))
    (http_port,) = free_ports(1)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            addresses = []
            for host in (liar, honest):
                await nursery.start(host.run)
                addresses.append(f"{host.listen_addrs()[0]}/p2p/{host.peer_id.to_base58()}")
            config = NodeConfig(
                p2p_listen="/ip4/127.0.0.1/tcp/0", http_port=http_port, peers=tuple(addresses)
            )
            identity = EdgeIdentity(tmp_path, config, fixture.genesis, edge_key, edges[0].peer_id)
            edge = EdgeService(identity)
            [url] = await nursery.start(edge.run)
            follower = edge.follower
            assert follower is not None
            with trio.fail_after(PATIENCE):
                while follower.chain.height < BLOCKS or not follower.refused:
                    await trio.sleep(0.05)
            health = await trio.to_thread.run_sync(lambda: httpx.get(url + "/health").json())
            assert set(follower.refused) == {nodes[0].peer_id}
            assert health["headers_refused"] >= 1
            assert health["height"] == BLOCKS
            for height in range(1, BLOCKS + 1):
                stored, got = ledger.block(height), follower.chain.get(height)
                assert stored is not None
                assert got is not None
                assert got.block_hash() == stored.block.hash()
            nursery.cancel_scope.cancel()

    trio.run(main)
