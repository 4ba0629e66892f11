"""Canonical encodings of every ledger type: exact round trips and strict parsing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from ledger.block import Block, BlockParts, header_of
from ledger.encoding import Encoded
from ledger.genesis import Genesis, NodeInfo
from ledger.records import (
    AuditRecord,
    Counter,
    Location,
    RecordEntry,
    audit_record_bytes,
    block_locations,
    location_bytes,
)
from ledger.transactions import PutRecord, RegisterMember, decode_transaction
from ledger.transition import record_entry_bytes, state_leaf, state_root
from tests.ledger.strategies import ALL_TYPES, for_type


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=25)
@given(data=st.data())
def test_round_trip(cls: type[Encoded], data: st.DataObject) -> None:
    value = data.draw(for_type(cls))
    encoded = value.to_bytes()
    assert encoded[0] == cls.TAG
    decoded = cls.from_bytes(encoded)
    assert decoded == value
    assert decoded.to_bytes() == encoded


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=10)
@given(data=st.data())
def test_rejects_anything_but_the_exact_encoding(cls: type[Encoded], data: st.DataObject) -> None:
    encoded = data.draw(for_type(cls)).to_bytes()
    with pytest.raises(DecodeError):
        cls.from_bytes(encoded + b"\x00")
    with pytest.raises(DecodeError):
        cls.from_bytes(encoded[:-1])
    with pytest.raises(DecodeError):
        cls.from_bytes(bytes([encoded[0] ^ 0x80]) + encoded[1:])
    with pytest.raises(DecodeError):
        cls.from_bytes(encoded[:1] + bytes([encoded[1] + 1]) + encoded[2:])


@settings(max_examples=20)
@given(data=st.data())
def test_decode_transaction_dispatches_on_the_tag(data: st.DataObject) -> None:
    tx = data.draw(for_type(PutRecord) | for_type(RegisterMember))
    assert decode_transaction(tx.to_bytes()) == tx


def test_decode_transaction_rejects_unknown_tags() -> None:
    with pytest.raises(DecodeError):
        decode_transaction(Counter(1).to_bytes())
    with pytest.raises(DecodeError):
        decode_transaction(b"")


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        (Location, {"height": -1, "position": 0}),
        (Location, {"height": 2**64, "position": 0}),
        (Location, {"height": True, "position": 0}),
        (Counter, {"value": "1"}),
        (NodeInfo, {"index": 1, "peer_id": "p", "verify_key": b"short", "box_key": bytes(32)}),
    ],
)
def test_construction_checks_field_types(cls: type[Encoded], fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        cls(**fields)


def test_bad_boolean_byte_is_rejected() -> None:
    from ledger.records import BlacklistEntry

    encoded = BlacklistEntry(bytes(32), 1, 1).to_bytes()
    assert len(encoded) == 2 + 32 + 8 + 4  # sanity: fixed-width layout
    from ledger.qc import AccessVote

    vote = bytearray(AccessVote(1, True, b"", bytes(64)).to_bytes())
    vote[4] = 2  # the approve flag
    with pytest.raises(DecodeError):
        AccessVote.from_bytes(bytes(vote))


def _nodes(n: int) -> tuple[NodeInfo, ...]:
    return tuple(NodeInfo(i, f"p{i}", bytes([i]) * 32, bytes(32)) for i in range(1, n + 1))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nodes": ()}, "at least one"),
        ({"nodes": _nodes(3)[1:]}, "1..n"),
        ({"threshold": 0}, "threshold"),
        ({"threshold": 5}, "threshold"),
        ({"quorum": 2}, "majority"),
        ({"quorum": 5}, "majority"),
        ({"chain_id": ""}, "chain_id"),
        ({"denial_limit": 0}, "denial_limit"),
    ],
)
def test_genesis_rejects_inconsistent_parameters(changes: dict[str, Any], message: str) -> None:
    params: dict[str, Any] = {
        "chain_id": "c",
        "genesis_time_ms": 0,
        "nodes": _nodes(4),
        "authority_key": bytes(32),
        "threshold": 3,
        "quorum": 3,
    }
    params.update(changes)
    with pytest.raises(ValueError, match=message):
        Genesis(**params)


def test_genesis_rejects_duplicate_node_keys() -> None:
    nodes = (NodeInfo(1, "a", bytes(32), bytes(32)), NodeInfo(2, "b", bytes(32), bytes(32)))
    with pytest.raises(ValueError, match="verify key"):
        Genesis.create("c", nodes, bytes(32), genesis_time_ms=0)


def test_genesis_defaults_to_a_majority_quorum() -> None:
    for n, quorum in [(1, 1), (2, 2), (3, 2), (4, 3), (7, 4)]:
        genesis = Genesis.create("c", _nodes(n), bytes(32), genesis_time_ms=0)
        assert (genesis.quorum, genesis.threshold) == (quorum, quorum)


@settings(max_examples=30)
@given(height=st.integers(0, 2**64 - 1), position=st.integers(0, 2**32 - 1))
def test_location_bytes_is_the_canonical_encoding(height: int, position: int) -> None:
    assert location_bytes(height, position) == Location(height, position).to_bytes()


@settings(max_examples=30)
@given(height=st.integers(0, 2**64 - 1), count=st.integers(0, 130))
def test_block_locations_are_the_canonical_encodings(height: int, count: int) -> None:
    expected = [Location(height, position).to_bytes() for position in range(count)]
    assert block_locations(height, count) == expected


@settings(max_examples=25)
@given(block=for_type(Block))
def test_block_parts_agree_with_the_full_decoding(block: Block) -> None:
    encoded = block.to_bytes()
    parts = BlockParts.from_bytes(encoded)
    assert parts.header == block.header == header_of(encoded)
    assert parts.tx_ids() == block.tx_ids()
    assert parts.result_hashes() == [r.hash() for r in block.results]
    assert parts.last_commit == block.last_commit
    with pytest.raises(DecodeError):
        BlockParts.from_bytes(encoded + b"\x00")


@settings(max_examples=30)
@given(
    tx=for_type(PutRecord),
    height=st.integers(0, 2**64 - 1),
    tx_id=st.binary(min_size=32, max_size=32),
)
def test_record_entry_bytes_is_the_canonical_encoding(
    tx: PutRecord, height: int, tx_id: bytes
) -> None:
    entry = RecordEntry(
        record_id=tx.record_id,
        owner=tx.owner,
        keywords_hash=tx.keywords_hash,
        policy=tx.policy,
        access_limit=tx.access_limit,
        metadata_ciphertext=tx.metadata_ciphertext,
        storage_commitments=tx.storage_commitments,
        abe_ciphertext=tx.abe_ciphertext,
        domain_epoch=tx.domain_epoch,
        domain_ciphertext=tx.domain_ciphertext,
        created_at_ms=tx.created_at_ms,
        height=height,
        tx_id=tx_id,
    )
    assert record_entry_bytes(tx, height, tx_id) == entry.to_bytes()


@settings(max_examples=30)
@given(ops=st.dictionaries(st.binary(max_size=40), st.none() | st.binary(max_size=40)))
def test_state_root_hashes_the_documented_leaves(ops: dict[bytes, bytes | None]) -> None:
    from crypto.hashing import digest
    from ledger.merkle import merkle_root
    from ledger.transition import STATE_ROOT_TAG

    leaves = [state_leaf(key, ops[key]) for key in sorted(ops)]
    expected = digest(STATE_ROOT_TAG, b"p" * 32, (7).to_bytes(8, "big"), merkle_root(leaves))
    assert state_root(b"p" * 32, 7, ops) == expected


@settings(max_examples=25)
@given(block=for_type(Block))
def test_cached_block_encoding_matches_a_fresh_one(block: Block) -> None:
    encoded = block.to_bytes()
    assert Block.from_bytes(encoded).to_bytes() == encoded
    assert Encoded.to_bytes(block) == encoded


@settings(max_examples=30)
@given(record=for_type(AuditRecord))
def test_audit_record_bytes_is_the_canonical_encoding(record: AuditRecord) -> None:
    fields = tuple(getattr(record, name) for name, _ in AuditRecord.FIELDS)
    assert audit_record_bytes(fields) == record.to_bytes()  # type: ignore[arg-type]
