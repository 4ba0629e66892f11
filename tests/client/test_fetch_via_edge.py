"""`fetch_ciphertext(..., via_edge=...)`: the same signed token goes to the edge, with the key
that signed it and the record's PutRecord id; an edge's refusal is an AccessDenied."""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

import pytest

from client.errors import AccessDenied, NodeError
from client.requester import Decision, fetch_ciphertext
from crypto.signing import SigningKey, VerifyKey
from ledger.access_token import AccessToken
from ledger.transactions import member_id_for

CHAIN = "test-chain"


class Target:
    """A node or edge client that records what it was sent."""

    def __init__(self, refuse: NodeError | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.refuse = refuse

    def fetch_data(self, record_id: bytes, body: dict[str, Any]) -> bytes:
        self.sent.append(body)
        if self.refuse is not None:
            raise self.refuse
        return b"ciphertext"

    def grants(self, record_id: str) -> list[dict[str, Any]]:
        return []


def edge_client(target: Target) -> Any:
    return target


def setup() -> tuple[Any, Any, bytes, Decision, Target]:
    key = SigningKey.generate()
    requester = SimpleNamespace(signing_key=key, member_id=member_id_for(key.verify_key))
    record_id, put_tx = secrets.token_bytes(32), secrets.token_bytes(32)
    node = Target()
    session = SimpleNamespace(
        client=node, chain_id=CHAIN, record=lambda rid: {"tx_id": put_tx.hex()}
    )
    decision = Decision(secrets.token_bytes(32).hex(), "granted", 3, b"", "")
    return session, requester, record_id, decision, node


def test_the_edge_gets_the_nodes_token_plus_key_and_record_tx() -> None:
    session, requester, record_id, decision, node = setup()
    edge = Target()
    fetched = fetch_ciphertext(session, requester, record_id, decision, via_edge=edge_client(edge))
    assert fetched == b"ciphertext"
    assert node.sent == []
    [body] = edge.sent
    assert body["record_tx_id"] == session.record(record_id)["tx_id"]
    key = VerifyKey(bytes.fromhex(body["verify_key"]))
    assert member_id_for(key) == requester.member_id
    token = AccessToken(
        record_id=record_id,
        requester=bytes.fromhex(body["requester"]),
        decision_id=bytes.fromhex(body["decision_id"]),
        expires_at_ms=body["expires_at_ms"],
        abe_binding=None,
        timestamp_ms=body["timestamp_ms"],
        nonce=bytes.fromhex(body["nonce"]),
        signature=bytes.fromhex(body["signature"]),
    )
    token.verify_signature(key, CHAIN)
    assert token.decision_id.hex() == decision.request_id
    # Without an edge, the node gets the token's body alone.
    fetch_ciphertext(session, requester, record_id, decision)
    assert set(node.sent[0]) == set(body) - {"verify_key", "record_tx_id"}


def test_an_edge_refusal_is_access_denied() -> None:
    session, requester, record_id, decision, _ = setup()
    edge = Target(NodeError(403, "not_granted", "3 node(s) refused the fetch: revoked"))
    with pytest.raises(AccessDenied, match="the edge refused the data: 3 node"):
        fetch_ciphertext(session, requester, record_id, decision, via_edge=edge_client(edge))
