"""The edge's fetcher for proof kind 5 against a node's handler: not found at the genesis
epoch, the latest rotation verified against the edge's own headers, a proof of another
transaction refused; and :class:`DomainEpochs` moving to the proven epoch's key."""

from __future__ import annotations

import pytest
import trio

from crypto.groups import load_group
from ledger.header_chain import HeaderChain, HeaderRequest
from ledger.inclusion import ProofKind, ProofRequest, prove
from ledger.kv import MemoryStore
from ledger.transactions import RotateDomainKey
from node.edge.proofs import PROOFS_PROTOCOL, ItemNotFound, ProofFetcher, ProofRefused, proof_server
from node.edge.protocol import certified_headers
from node.edge.sensor_epochs import DomainEpochs, Follow
from node.edge.sensor_ingest import NetworkKeys
from tests.ledger.test_devices import DeviceChain


def fetcher(chain: DeviceChain, *, lie: bool = False) -> ProofFetcher:
    headers = HeaderChain(MemoryStore(), chain.fx.genesis)
    for certified in certified_headers(chain.ledger, HeaderRequest(1, chain.ledger.height)).headers:
        headers.extend(certified)
    registration = chain.register()

    async def request(peer: str, protocol: str, payload: bytes) -> bytes:
        assert protocol == PROOFS_PROTOCOL
        if lie:  # answers with the proof of the device's registration instead
            ask = ProofRequest(ProofKind.TRANSACTION, registration.tx_id())
            return prove(chain.ledger, ask).to_bytes()
        return await proof_server(chain.ledger)(None, payload)  # type: ignore[arg-type]

    return ProofFetcher(headers, request, lambda: ["node-1"], header_wait=0.1)


def test_the_latest_rotation_is_fetched_verified_and_followed() -> None:
    chain = DeviceChain()
    chain.fx.commit(chain.ledger, [chain.register()])
    with pytest.raises(ItemNotFound):
        trio.run(fetcher(chain).fetch_rotation)
    chain.rotate(1)
    chain.rotate(2)
    proven = trio.run(fetcher(chain).fetch_rotation)
    assert isinstance(proven.transaction, RotateDomainKey)
    assert proven.transaction.domain.epoch == 2
    with pytest.raises(ProofRefused):
        trio.run(fetcher(chain, lie=True).fetch_rotation)

    genesis = chain.fx.genesis
    start = NetworkKeys(chain.fame.public, 0, load_group().g2)
    epochs = DomainEpochs(start, Follow(fetcher(chain), genesis, load_group()))
    keys = trio.run(epochs.current)
    assert (keys.epoch, keys.domain_key) == (2, chain.domain_public[2].pk2)
