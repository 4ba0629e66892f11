"""A one-node network served in-process: the HTTP API end to end, and a clean shutdown."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
import trio

import node.service as service_module
from consensus.encoding import ItemKind
from consensus.messages import Submission
from crypto.signing import SigningKey
from ledger.transactions import MemberRole, RegisterMember, member_id_for
from node.home import load_identity
from node.service import NodeService
from testnet.layout import create_network
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


@trio_test
async def test_one_node_serves_the_api_and_commits(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 1, round_timeout_ms=500)
    service = NodeService(load_identity(network.directory / "node1"))
    async with trio.open_nursery() as nursery:
        with trio.fail_after(PATIENCE):
            urls = await nursery.start(service.run)
        async with httpx.AsyncClient(base_url=urls[0], timeout=PATIENCE) as client:
            status = (await client.get("/status")).json()
            assert status["node_index"] == 1
            assert status["height"] == 0
            assert (await client.get("/genesis")).json()["chain_id"] == network.chain_id
            assert (await client.get("/net_info")).json()["peers"] == []

            member_id, raw = register_tx(network.chain_id, network.authority_key())
            submitted = await client.post("/tx", json={"tx": raw.hex()})
            assert submitted.status_code == 202
            tx_id = submitted.json()["tx_id"]
            again = await client.post("/tx", json={"tx": raw.hex()})
            assert again.status_code == 409
            committed = (await client.get(f"/tx/{tx_id}", params={"wait": 30})).json()
            assert committed["type"] == "RegisterMember"
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
            by_hash = (await client.get(f"/blocks/by-hash/{block['hash']}")).json()
            assert by_hash["height"] == height
            headers = (await client.get("/blocks", params={"from": 1, "to": height})).json()
            assert [h["height"] for h in headers["blocks"]] == list(range(1, height + 1))
            assert (await client.get("/verify")).json()["ok"] is True
            assert (await client.get("/audit", params={"from": 1})).json() == {"audit": []}
            assert (await client.get("/blacklist")).json() == {"blacklist": []}
            metrics = (await client.get("/metrics")).text
            assert "iomtshare_height" in metrics
            assert "iomtshare_link_queued_frames" in metrics
            assert (await client.get(f"/records/{'00' * 32}")).status_code == 404
            unknown_request = await client.get(f"/requests/{'00' * 32}", params={"wait": 0})
            assert unknown_request.status_code == 404
        nursery.cancel_scope.cancel()


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


class _StuckProbe:
    """Just what :meth:`NodeService._gossip_if_stuck` reads, with the publications recorded."""

    def __init__(self, pending: set[bytes], committed: set[bytes]) -> None:
        self.pool = pending
        self.committed = committed
        self.published: list[bytes] = []

    def require(self) -> tuple[None, _StuckProbe, _StuckProbe]:
        return None, self, self

    def is_committed(self, item_id: bytes) -> bool:
        return item_id in self.committed

    def _publish_soon(self, frame: bytes) -> None:
        self.published.append(frame)


@trio_test
async def test_only_a_submission_still_pending_goes_on_gossip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service_module, "_GOSSIP_FALLBACK_SECONDS", 0.0)
    stuck, decided, gone = (Submission(ItemKind.TX, body) for body in (b"a", b"b", b"c"))
    probe = _StuckProbe({stuck.item_id, decided.item_id}, {decided.item_id})
    for submission in (stuck, decided, gone):
        await NodeService._gossip_if_stuck(probe, submission)  # type: ignore[arg-type]
    assert probe.published == [stuck.to_bytes()]
