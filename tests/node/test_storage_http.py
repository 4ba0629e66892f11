"""The fragment upload over HTTP, on a one-node network served in-process.

The client library is synchronous, so it runs in a worker thread while the node runs on the
test's trio loop.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import trio

from client import MemberKeys, NodeClient
from client.authority import register_member
from client.member import publish_tpre_key
from client.owner import put_file
from client.session import Session
from crypto.groups import load_group
from crypto.storage import Fragment
from ledger.transactions import MemberRole
from node.home import load_identity
from node.service import NodeService
from testnet.layout import create_network
from tests.node.p2p.p2p_testing import PATIENCE, trio_test


@trio_test
async def test_fragments_are_taken_only_for_a_record_committed_here(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 1, round_timeout_ms=500)
    service = NodeService(load_identity(network.directory / "node1"))
    async with trio.open_nursery() as nursery:
        with trio.fail_after(PATIENCE):
            urls = await nursery.start(service.run)
        async with httpx.AsyncClient(base_url=urls[0], timeout=PATIENCE) as client:
            junk = Fragment(1, secrets.token_bytes(1000)).to_bytes().hex()
            unknown = await client.post(
                f"/records/{secrets.token_hex(32)}/fragments", json={"fragments": [junk]}
            )
            assert unknown.status_code == 404
            assert unknown.json()["error"]["code"] == "not_found"
            assert service.parts is not None
            assert service.parts.app.local.pending.count == 0  # nothing parked on anyone's say-so
            # A node that has seen peers far ahead cannot tell the record does not exist.
            service.catch_up.highest_seen = 1_000
            behind = await client.post(
                f"/records/{secrets.token_hex(32)}/fragments", json={"fragments": [junk]}
            )
            assert behind.status_code == 503
            assert behind.json()["error"]["code"] == "syncing"
            assert behind.headers["retry-after"]
            service.catch_up.highest_seen = 0

            def put() -> tuple[bytes, int]:
                session = Session(NodeClient(urls[0]), load_group())
                owner = MemberKeys.generate(session.group, MemberRole.OWNER)
                authority = network.authority_key()
                register_member(session, authority, owner.public(), timeout=PATIENCE)
                publish_tpre_key(session, owner, timeout=PATIENCE)
                stored = put_file(session, owner, b"ecg " * 500, timeout=PATIENCE)
                return stored.record_id, stored.fragments_stored

            with trio.fail_after(PATIENCE):
                record_id, stored = await trio.to_thread.run_sync(put)
            assert stored == 1
            # A committed record takes only fragments that match its commitment.
            forged = await client.post(
                f"/records/{record_id.hex()}/fragments", json={"fragments": [junk]}
            )
            assert forged.status_code == 400
            assert forged.json()["error"]["code"] == "bad_fragment"
        nursery.cancel_scope.cancel()
