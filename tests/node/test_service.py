"""A one-node network: the HTTP API end to end in process on the autojump clock, the real
process wiring over sockets with a clean shutdown, and the gossip fallback's delay."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trio
import trio.testing

from consensus.encoding import ItemKind
from consensus.item import Item
from consensus.messages import Submission
from crypto.signing import SigningKey
from ledger.transactions import MemberRole, RegisterMember, member_id_for
from node.config import DATA_DIR
from node.gossip_fallback import FALLBACK_SECONDS, TX_TOPIC, GossipFallback
from node.home import load_identity, wall_ms
from node.service import NodeService, open_stores
from testnet.layout import create_network
from tests.node.inprocess import mock_clock_test, one_node
from tests.node.p2p.p2p_testing import PATIENCE, trio_test


def register_tx(chain_id: str, authority: SigningKey) -> tuple[bytes, bytes]:
    key = SigningKey.generate()
    member_id = member_id_for(key.verify_key)
    tx = RegisterMember(
        member_id=member_id,
        verify_key=key.verify_key.raw,
        box_key=secrets.token_bytes(32),
        role=int(MemberRole.REQUESTER),
        attributes=("role:doctor",),
        registered_at_ms=1,
    )
    return member_id, tx.signed(authority, chain_id).to_bytes()


@mock_clock_test
async def test_one_node_serves_the_api_and_commits(tmp_path: Path) -> None:
    # In process on the autojump clock: the batch delay and round timers cost no real time.
    async with one_node(tmp_path / "net") as node:
        client = node.client
        status = (await client.get("/status")).json()
        assert status["node_index"] == 1
        assert status["height"] == 0
        assert (await client.get("/genesis")).json()["chain_id"] == node.network.chain_id
        assert (await client.get("/net_info")).json()["peers"] == []

        member_id, raw = register_tx(node.network.chain_id, node.network.authority_key())
        submitted = await client.post("/tx", json={"tx": raw.hex()})
        assert submitted.status_code == 202
        tx_id = submitted.json()["tx_id"]
        again = await client.post("/tx", json={"tx": raw.hex()})
        assert again.status_code == 409
        before = trio.current_time()
        committed = (await client.get(f"/tx/{tx_id}", params={"wait": 30})).json()
        assert committed["type"] == "RegisterMember"
        # Consensus waited out its batch delay on the test's clock.
        assert trio.current_time() > before
        height = committed["height"]
        duplicate = await client.post("/tx", json={"tx": raw.hex()})
        assert (duplicate.status_code, duplicate.json()["error"]["code"]) == (409, "duplicate")

        member = (await client.get(f"/members/{member_id.hex()}")).json()
        assert member["role"] == "requester"
        assert member["blacklisted"] is False
        history = (await client.get(f"/members/{member_id.hex()}/attributes")).json()
        assert history["history"][0]["attributes"] == ["role:doctor"]
        block = (await client.get(f"/blocks/{height}")).json()
        assert tx_id in block["tx_ids"]
        # Block time is the wall clock, not consensus's (trio) clock.
        assert abs(block["header"]["time_ms"] - wall_ms()) < 60_000
        by_hash = (await client.get(f"/blocks/by-hash/{block['hash']}")).json()
        assert by_hash["height"] == height
        headers = (await client.get("/blocks", params={"from": 1, "to": height})).json()
        assert [h["height"] for h in headers["blocks"]] == list(range(1, height + 1))
        assert (await client.get("/audit", params={"from": 1})).json() == {"audit": []}
        assert (await client.get("/blacklist")).json() == {"blacklist": []}
        metrics = (await client.get("/metrics")).text
        assert f"iomtshare_height {float(height)}" in metrics
        assert (await client.get(f"/records/{'00' * 32}")).status_code == 404
        unknown_request = await client.get(f"/requests/{'00' * 32}", params={"wait": 0})
        assert unknown_request.status_code == 404
        # A wait that nothing ends answers when its time is up, on the same clock.
        waited = trio.current_time()
        missing = await client.get(f"/tx/{'00' * 32}", params={"wait": 5})
        assert missing.status_code == 404
        assert trio.current_time() - waited >= 5


@trio_test
async def test_a_node_process_runs_its_services_over_real_sockets(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 1, round_timeout_ms=500)
    service = NodeService(load_identity(network.directory / "node1"))
    async with trio.open_nursery() as nursery:
        with trio.fail_after(PATIENCE):
            urls = await nursery.start(service.run)
        async with httpx.AsyncClient(base_url=urls[0], timeout=PATIENCE) as client:
            assert (await client.get("/status")).json()["peer_id"] == str(service.host.peer_id)
            net_info = (await client.get("/net_info")).json()
            assert net_info["listen"]
            assert net_info["peers"] == []
            _, raw = register_tx(network.chain_id, network.authority_key())
            tx_id = (await client.post("/tx", json={"tx": raw.hex()})).json()["tx_id"]
            committed = await client.get(f"/tx/{tx_id}", params={"wait": PATIENCE})
            assert committed.status_code == 200
            assert (await client.get("/verify")).json()["ok"] is True
            metrics = (await client.get("/metrics")).text
            assert "iomtshare_link_queued_frames" in metrics
            assert "iomtshare_http_requests_total" in metrics
            # The rate gates edges meet (headers, proofs, submissions, fragment gets).
            for kind in ("header", "proof", "submit", "fragment"):
                assert f"iomtshare_{kind}_requests_refused_total 0.0" in metrics
        nursery.cancel_scope.cancel()
    # The stores were closed on the way out: the home opens again.
    with open_stores(network.directory / "node1" / DATA_DIR, network.genesis) as (ledger, _):
        assert ledger.height >= 1


def test_bad_home_is_a_clear_error(tmp_path: Path) -> None:
    from node.config import ConfigError

    with pytest.raises(ConfigError, match="not a node home"):
        load_identity(tmp_path / "absent")
    network = create_network(tmp_path / "net", 2)
    home = network.directory / "node1"
    (home / "node_key").write_bytes(b"short")
    with pytest.raises(ConfigError, match="32 bytes"):
        load_identity(home)
    (home / "node_key").write_bytes(bytes(32))
    with pytest.raises(ConfigError, match="not one of the genesis nodes"):
        load_identity(home)


@dataclass
class _Gossip:
    """The gossip fallback with its mesh and the consensus pool replaced by records."""

    pending: set[bytes]
    published: list[tuple[str, bytes]] = field(default_factory=list)

    async def publish(self, topic: str, data: bytes) -> None:
        self.published.append((topic, data))

    def still_pending(self, item: Item) -> bool:
        return item.item_id in self.pending


def test_only_a_submission_still_pending_after_the_delay_goes_on_gossip() -> None:
    clock = trio.testing.MockClock()  # moved by hand below

    async def main() -> None:
        stuck, decided = (Item(ItemKind.TX, bytes([n]) * 32, bytes([n])) for n in (1, 2))
        gossip = _Gossip({stuck.item_id, decided.item_id})
        fallback = GossipFallback(gossip.publish, gossip.still_pending)
        async with trio.open_nursery() as nursery:
            await nursery.start(fallback.run)
            fallback.watch(stuck)
            fallback.watch(decided)
            clock.jump(FALLBACK_SECONDS - 0.1)
            await trio.testing.wait_all_tasks_blocked()
            assert gossip.published == []  # not before its time
            gossip.pending.discard(decided.item_id)  # committed meanwhile
            clock.jump(0.2)
            await trio.testing.wait_all_tasks_blocked()
            assert gossip.published == [(TX_TOPIC, Submission.of(stuck).to_bytes())]
            nursery.cancel_scope.cancel()

    trio.run(main, clock=clock)
