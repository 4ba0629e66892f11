"""Stored test vectors: the exact bytes and hashes of every ledger type, replayed.

Run with ``IOMTSHARE_REGEN_VECTORS=1`` to rewrite ``tests/vectors/ledger_vectors.json`` after a
deliberate format change (and bump the type's version when old data must stay readable).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ledger.authority_state import AttributeKeyEntry, DomainEpoch
from ledger.block import Block
from ledger.encoding import Encoded
from ledger.fragments import StoredFragment
from ledger.genesis import DOMAIN_PUBLIC_KEY_SIZE, G2_POINT_SIZE, DomainKeys
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.qc import access_vote_payload, commit_vote_payload
from ledger.records import AttributeRecord, BlacklistEntry, Counter, Location
from ledger.testing import ChainFixture
from ledger.transactions import (
    MemberRole,
    PublishAttributeKey,
    RegisterDevice,
    RekeyDevice,
    RotateDomainKey,
    device_id_for,
)
from tests.ledger.strategies import ALL_TYPES

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "ledger_vectors.json"
TYPES = {cls.__name__: cls for cls in ALL_TYPES}


def build_samples() -> tuple[dict[str, Encoded], dict[str, bytes]]:
    """Deterministic objects of every type, and the hashes and payloads derived from them."""
    fx = ChainFixture(nodes=4, seed=b"vectors")
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    register = fx.register("owner", attributes=("role:patient",))
    requester = fx.register("doctor", role=MemberRole.REQUESTER, attributes=("role:doctor",))
    fx.commit(ledger, [register, requester, fx.publish_key("owner"), fx.publish_key("doctor")])
    put = fx.put_record("owner", "rec", keywords="ecg", access_limit=2)
    grant = fx.grant("owner", "rec", "doctor")
    change = fx.change_attributes("doctor", ("role:doctor", "dept:cardio"))
    fx.commit(ledger, [put, grant, change])
    request = fx.request("doctor", "rec", at_ms=fx.time_at(3))
    result = fx.result(request, granted=True, dissenters=[4])
    rotate = fx.key_update("owner", "owner-2")
    block = fx.commit(ledger, [request, rotate], [result])
    assert block.election_qc is not None
    grant_entry = ledger.grants(fx.record_id("rec"))[0]
    revoke = fx.revoke("owner", "rec", "doctor")
    fx.commit(ledger, [revoke])
    stored = ledger.block(3)
    assert stored is not None
    owner, doctor = fx.member_id("owner"), fx.member_id("doctor")
    member, record = ledger.member(owner), ledger.record(fx.record_id("rec"))
    history = ledger.attribute_history(doctor)
    audit = ledger.audit_record(0)
    revocation = ledger.revocations(fx.record_id("rec"))
    assert member is not None
    assert record is not None
    assert audit is not None
    assert revocation

    samples: dict[str, Encoded] = {
        "NodeInfo": fx.genesis.nodes[0],
        "Genesis": fx.genesis,
        "CommitSignature": stored.commit_qc.signatures[0],
        "CommitQC": stored.commit_qc,
        "ElectionSignature": block.election_qc.signatures[0],
        "ElectionQC": block.election_qc,
        "AccessVote": result.votes[0],
        "RegisterMember": register,
        "AttributeChange": change,
        "PutRecord": put,
        "Grant": grant,
        "Revoke": revoke,
        "AccessRequest": request,
        "KeyUpdate": rotate,
        "Unblacklist": fx.unblacklist("doctor", 3, "denials were a client bug"),
        "SharingResult": result,
        "BlockHeader": block.header,
        "Block": block,
        "Member": member,
        "RecordEntry": record,
        "GrantEntry": grant_entry,
        "Revocation": revocation[0],
        "Counter": Counter(1),
        "BlacklistEntry": BlacklistEntry(doctor, 3, 5),
        "AttributeRecord": history[1],
        "AuditRecord": audit,
        "Head": ledger.head(),
        "Location": Location(3, 1),
        "StoredFragment": StoredFragment(fx.record_id("rec"), 2, b"fragment-bytes"),
        **authority_samples(fx, history[1]),
    }
    derived = {
        "genesis_hash": fx.genesis.hash(),
        "block_hash": block.hash(),
        "block_state_root": block.header.state_root,
        "tx_id_put_record": put.tx_id(),
        "put_record_signing_payload": put.signing_payload(fx.chain_id),
        "audit_record_hash": audit.hash(),
        "attribute_record_hash": history[1].hash(),
        "commit_vote_payload": commit_vote_payload(fx.chain_id, 7, 2, bytes(range(32))),
        "access_vote_payload": access_vote_payload(
            fx.chain_id, bytes(range(32)), True, b"share and proof"
        ),
    }
    return samples, derived


def authority_samples(fx: ChainFixture, link: AttributeRecord) -> dict[str, Encoded]:
    """The authority's key publications, built (not committed) from fixed bytes: their
    encodings need no valid cryptography, and the chain above stays as it was."""
    publish = PublishAttributeKey(
        link.member_id, link.seq, link.hash(), b"issued-attribute-key", fx.time_at(5)
    ).signed(fx.authority_key, fx.chain_id)
    domain = DomainKeys(
        1, 3, bytes([0x21]) * DOMAIN_PUBLIC_KEY_SIZE,
        tuple(bytes([0xA0 + i]) * G2_POINT_SIZE for i in range(1, 5)),
    )
    shares = tuple(bytes([i]) * 84 for i in range(1, 5))
    rotate = RotateDomainKey(domain, shares, "yearly", fx.time_at(6)).signed(
        fx.authority_key, fx.chain_id
    )
    return {
        "PublishAttributeKey": publish,
        "RotateDomainKey": rotate,
        "AttributeKeyEntry": AttributeKeyEntry(
            publish.member_id, publish.attribute_seq, publish.attribute_head,
            publish.issued_key, publish.issued_at_ms, 5, publish.tx_id(),
        ),
        "DomainEpoch": DomainEpoch(domain, shares, 6, rotate.tx_id()),
        "RegisterDevice": RegisterDevice(
            device_id_for(b"device-key"), b"device-key", link.member_id, "edge-peer", 1,
            b"rekey-epoch-1", fx.time_at(7),
        ).signed(fx.authority_key, fx.chain_id),
        "RekeyDevice": RekeyDevice(
            device_id_for(b"device-key"), 2, b"rekey-epoch-2", fx.time_at(8)
        ).signed(fx.authority_key, fx.chain_id),
    }


def render(samples: dict[str, Encoded], derived: dict[str, bytes]) -> dict[str, Any]:
    return {
        "comment": "Canonical ledger encodings; regenerate with IOMTSHARE_REGEN_VECTORS=1",
        "objects": {name: value.to_bytes().hex() for name, value in samples.items()},
        "derived": {name: value.hex() for name, value in derived.items()},
    }


def test_every_type_has_a_vector() -> None:
    samples, _ = build_samples()
    assert set(samples) == set(TYPES)


def test_vectors_match_the_stored_file() -> None:
    current = render(*build_samples())
    if os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1":
        VECTORS.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    stored = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert stored == current


@pytest.mark.parametrize("name", sorted(TYPES))
def test_stored_bytes_decode_and_reencode(name: str) -> None:
    stored = json.loads(VECTORS.read_text(encoding="utf-8"))
    raw = bytes.fromhex(stored["objects"][name])
    value = TYPES[name].from_bytes(raw)
    assert value.to_bytes() == raw
    if isinstance(value, Block):
        assert value.hash().hex() == stored["derived"]["block_hash"]
