"""An in-process stand-in for a node's HTTP API (docs/http-api.md), for client and CLI tests.

It keeps the ledger in dicts, commits every accepted transaction at once (one block each) and,
holding every node's box key from a testnet, plays the whole network's part of an access
request: it opens t re-key shares, computes and batch-verifies the re-encryption shares and
combines them, as the leader would. It is a test double of the contract, not of the node.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from crypto.errors import CryptoError
from crypto.groups import Group
from crypto.sealing import BoxSecretKey
from crypto.signing import VerifyKey
from crypto.storage import Fragment, StorageCommitment, rebuild
from crypto.tpre import (
    Grant as TpreGrant,
)
from crypto.tpre import (
    OwnerCiphertext,
    combine_shares,
    open_rekey_share,
    reencryption_share,
    verification_keys,
    verify_rekey_share,
    verify_shares_batch,
)
from ledger.fetch import fetch_signing_payload
from ledger.keyfiles import load_secret
from ledger.transactions import (
    AccessRequest,
    AttributeChange,
    Grant,
    KeyUpdate,
    PutRecord,
    RegisterMember,
    Revoke,
    Transaction,
    decode_transaction,
)
from testnet.layout import Network


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class FakeNode:
    network: Network
    group: Group
    height: int = 0
    txs: dict[str, tuple[Transaction, int]] = field(default_factory=dict)
    members: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    records: dict[bytes, PutRecord] = field(default_factory=dict)
    grants: dict[tuple[bytes, bytes], Grant] = field(default_factory=dict)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    fragments: dict[bytes, list[Fragment]] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    nonces: set[bytes] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.box_keys = [
            BoxSecretKey(load_secret(self.network.directory / n.home / "box_key"))
            for n in self.network.nodes
        ]
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"/status"), self.status),
            ("GET", re.compile(r"/genesis"), lambda q, b: self.network.genesis.to_json()),
            ("GET", re.compile(r"/blocks/(\d+)"), self.block),
            ("GET", re.compile(r"/tx/([0-9a-f]+)"), self.tx),
            ("POST", re.compile(r"/tx"), self.submit),
            ("GET", re.compile(r"/members/([0-9a-f]+)"), self.member),
            ("GET", re.compile(r"/members/([0-9a-f]+)/attributes"), self.attributes),
            ("GET", re.compile(r"/records/([0-9a-f]+)"), self.record),
            ("GET", re.compile(r"/records/([0-9a-f]+)/grants"), self.grant_list),
            ("POST", re.compile(r"/records/([0-9a-f]+)/fragments"), self.put_fragments),
            ("POST", re.compile(r"/records/([0-9a-f]+)/data"), self.data),
            ("GET", re.compile(r"/requests/([0-9a-f]+)"), self.request),
            ("GET", re.compile(r"/audit"), lambda q, b: {"audit": self.audit}),
            ("GET", re.compile(r"/verify"), lambda q, b: {"ok": True, "height": self.height,
                                                          "first_bad": None}),
        ]
        self.lock = threading.Lock()
        #: Every (method, path) asked of the fake, in order.
        self.paths: list[tuple[str, str]] = []

    # -- transport -----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.paths.append((request.method, request.url.path))
        body = json.loads(request.content) if request.content else None
        query = dict(request.url.params)
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(request.url.path)
            if match and method == request.method:
                try:
                    with self.lock:
                        answer = handler(*match.groups(), query, body)
                except Refused as exc:
                    return httpx.Response(
                        exc.status, json={"error": {"code": exc.code, "message": exc.message}}
                    )
                status = 202 if method == "POST" and not request.url.path.endswith("/data") else 200
                return httpx.Response(status, json=answer)
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no route"}})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- reads ---------------------------------------------------------------------------------

    def status(self, query: dict[str, str], body: Any) -> dict[str, Any]:
        return {
            "chain_id": self.network.chain_id,
            "genesis_hash": self.network.genesis.hash().hex(),
            "node_index": 1,
            "peer_id": self.network.nodes[0].peer_id,
            "height": self.height,
            "head_hash": f"{self.height:064x}",
            "peers_connected": len(self.network.nodes) - 1,
            "peers": [n.peer_id for n in self.network.nodes[1:]],
            "round": 0,
            "syncing": False,
        }

    def block(self, height: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        h = int(height)
        if not 1 <= h <= self.height:
            raise Refused(404, "not_found", "no such block")
        ids = [tx_id for tx_id, (_, at) in self.txs.items() if at == h]
        return {"height": h, "hash": f"{h:064x}", "header": {"height": h}, "tx_ids": ids,
                "sharing_results": [], "commit_qc": {}, "raw": ""}

    def tx(self, tx_id: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if tx_id not in self.txs:
            raise Refused(404, "not_found", "unknown transaction")
        tx, height = self.txs[tx_id]
        return {"tx_id": tx_id, "type": type(tx).__name__, "height": height,
                "block_hash": f"{height:064x}", "index": 0, "tx": {}, "raw": tx.to_bytes().hex()}

    def member(self, member_id: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        found = self.members.get(bytes.fromhex(member_id))
        if found is None:
            raise Refused(404, "not_found", "unknown member")
        return {k: v for k, v in found.items() if k != "history"}

    def attributes(self, member_id: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        found = self.members.get(bytes.fromhex(member_id))
        if found is None:
            raise Refused(404, "not_found", "unknown member")
        return {"history": found["history"]}

    def record(self, record_id: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        rec = self.records.get(bytes.fromhex(record_id))
        if rec is None:
            raise Refused(404, "not_found", "unknown record")
        return {"record_id": record_id, "owner": rec.owner.hex(),
                "keywords_hash": rec.keywords_hash.hex(), "policy": rec.policy,
                "access_limit": rec.access_limit,
                "metadata_ciphertext": rec.metadata_ciphertext.hex(),
                "storage_commitment": rec.storage_commitments.hex(), "height": 1}

    def grant_list(self, record_id: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        rid = bytes.fromhex(record_id)
        return {"grants": [{"grantee": g.grantee.hex(), "threshold": g.threshold,
                            "expiry": g.expires_at_ms, "revoked": False, "height": 1}
                           for (r, _), g in self.grants.items() if r == rid]}

    def request(self, request_id: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if request_id not in self.requests:
            raise Refused(404, "not_found", "unknown request")
        return self.requests[request_id]

    # -- writes --------------------------------------------------------------------------------

    def submit(self, query: dict[str, str], body: Any) -> dict[str, Any]:
        try:
            tx = decode_transaction(bytes.fromhex(body["tx"]))
        except (CryptoError, ValueError) as exc:
            raise Refused(400, "bad_transaction", str(exc)) from exc
        tx_id = tx.tx_id().hex()
        if tx_id in self.txs:
            raise Refused(409, "duplicate", "transaction already known")
        self.apply(tx, tx_id)
        self.height += 1
        self.txs[tx_id] = (tx, self.height)
        return {"tx_id": tx_id}

    def check(self, tx: Transaction, key: bytes) -> None:
        try:
            tx.verify_signature(VerifyKey(key), self.network.chain_id)
        except CryptoError as exc:
            raise Refused(400, "bad_signature", str(exc)) from exc

    def signer(self, member_id: bytes) -> dict[str, Any]:
        if member_id not in self.members:
            raise Refused(400, "unknown_member", "not a member")
        return self.members[member_id]

    def apply(self, tx: Transaction, tx_id: str) -> None:
        if isinstance(tx, RegisterMember):
            self.check(tx, self.network.genesis.authority_key)
            self.members[tx.member_id] = {
                "member_id": tx.member_id.hex(), "role": tx.role,
                "verify_key": tx.verify_key.hex(), "tpre_public_key": "",
                "registered_height": self.height + 1, "blacklisted": False,
                "history": [{"seq": 0, "height": self.height + 1,
                             "attributes": list(tx.attributes), "prev_hash": "", "hash": ""}],
            }
        elif isinstance(tx, AttributeChange):
            self.check(tx, self.network.genesis.authority_key)
            history = self.signer(tx.member_id)["history"]
            history.append({"seq": len(history), "height": self.height + 1,
                            "attributes": list(tx.attributes), "prev_hash": "", "hash": ""})
        elif isinstance(tx, KeyUpdate):
            member = self.signer(tx.member_id)
            self.check(tx, bytes.fromhex(member["verify_key"]))
            member["verify_key"] = tx.new_verify_key.hex()
            member["tpre_public_key"] = tx.public_key_material.hex()
        elif isinstance(tx, PutRecord):
            self.check(tx, bytes.fromhex(self.signer(tx.owner)["verify_key"]))
            self.records[tx.record_id] = tx
        elif isinstance(tx, Grant):
            self.check(tx, bytes.fromhex(self.signer(tx.owner)["verify_key"]))
            self.grants[(tx.record_id, tx.grantee)] = tx
        elif isinstance(tx, Revoke):
            self.check(tx, bytes.fromhex(self.signer(tx.owner)["verify_key"]))
            self.grants.pop((tx.record_id, tx.grantee), None)
        elif isinstance(tx, AccessRequest):
            self.check(tx, bytes.fromhex(self.signer(tx.requester)["verify_key"]))
            if tx.nonce in self.nonces:
                raise Refused(409, "replay", "nonce already used")
            self.nonces.add(tx.nonce)
            self.decide(tx, tx_id)

    def decide(self, tx: AccessRequest, tx_id: str) -> None:
        grant = self.grants.get((tx.record_id, tx.requester))
        decision: dict[str, Any] = {"request_id": tx_id, "height": self.height + 1,
                                    "audit_seq": len(self.audit)}
        if grant is None:
            decision.update(status="denied", reason="no active grant")
        else:
            g = self.group
            tpre = TpreGrant.from_bytes(g, grant.sealed_rekey_shares)
            ct = OwnerCiphertext.from_bytes(g, self.records[tx.record_id].metadata_ciphertext)
            vks = verification_keys(g, tpre)
            context = bytes.fromhex(tx_id)
            shares = []
            for index in range(1, tpre.threshold + 1):
                rk = open_rekey_share(g, tpre, index, self.box_keys[index - 1])
                verified = verify_rekey_share(g, rk, vks[index - 1])
                shares.append(reencryption_share(g, verified, ct.c1, context))
            vk_map = {i + 1: vk for i, vk in enumerate(vks)}
            checked = verify_shares_batch(g, shares, vk_map, ct.c1, context)
            combined = combine_shares(g, ct, checked, tpre.threshold)
            decision.update(status="granted", reencrypted_ciphertext=combined.to_bytes().hex())
        self.requests[tx_id] = decision
        self.audit.append({"seq": len(self.audit), "height": self.height + 1,
                           "request_id": tx_id, "record_id": tx.record_id.hex(),
                           "requester": tx.requester.hex(), "decision": decision["status"],
                           "prev_hash": "", "hash": ""})

    def put_fragments(self, record_id: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        rid = bytes.fromhex(record_id)
        record = self.records.get(rid)
        if record is None:
            raise Refused(404, "not_found", "unknown record")
        commitment = StorageCommitment.from_bytes(record.storage_commitments)
        fragments = [Fragment.from_bytes(bytes.fromhex(h)) for h in body["fragments"]]
        for fragment in fragments:
            commitment.verify_fragment(fragment)
        self.fragments[rid] = fragments
        return {"stored": len(fragments)}

    def data(self, record_id: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        rid = bytes.fromhex(record_id)
        requester = bytes.fromhex(body["requester"])
        payload = fetch_signing_payload(
            self.network.chain_id, rid, requester, body["timestamp_ms"],
            bytes.fromhex(body["nonce"]),
        )
        self.check_fetch_signature(requester, payload, bytes.fromhex(body["signature"]))
        granted = any(
            r["status"] == "granted" and r["request_id"] in self.txs
            and self.audit[r["audit_seq"]]["requester"] == requester.hex()
            and self.audit[r["audit_seq"]]["record_id"] == record_id
            for r in self.requests.values()
        )
        if not granted:
            raise Refused(403, "not_granted", "no committed grant for this requester")
        commitment = StorageCommitment.from_bytes(self.records[rid].storage_commitments)
        return {"ciphertext": rebuild(commitment, self.fragments[rid]).data.hex()}

    def check_fetch_signature(self, requester: bytes, payload: bytes, signature: bytes) -> None:
        key = VerifyKey(bytes.fromhex(self.signer(requester)["verify_key"]))
        try:
            key.verify(payload, signature)
        except CryptoError as exc:
            raise Refused(401, "bad_signature", str(exc)) from exc


@contextmanager
def serve(fake: FakeNode) -> Iterator[str]:
    """Serve ``fake`` over real HTTP on a loopback port (for CLI tests); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _relay(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = httpx.Request(
                self.command, f"http://fake{self.path}", content=self.rfile.read(length)
            )
            response = fake.handle(request)
            self.send_response(response.status_code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        do_GET = _relay
        do_POST = _relay

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
