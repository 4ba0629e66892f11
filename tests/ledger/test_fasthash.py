"""The fast hashing paths equal their definitions through ``crypto.hashing.digest``."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.hashing import digest
from ledger import schema
from ledger.block import BlockParts
from ledger.fasthash import OnePartDigest, TwoHashDigest
from ledger.ledger import Ledger
from ledger.merkle import MERKLE_EMPTY_TAG, MERKLE_LEAF_TAG, MERKLE_NODE_TAG, merkle_root
from ledger.transactions import TX_ID_TAG, tx_id_of, tx_ids_of

tags = st.binary(min_size=1, max_size=80)
parts = st.binary(max_size=600)
hashes = st.binary(min_size=32, max_size=32)


def reference_merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle root exactly as defined, one ``digest`` call per node."""
    if not leaves:
        return digest(MERKLE_EMPTY_TAG)
    level = [digest(MERKLE_LEAF_TAG, leaf) for leaf in leaves]
    while len(level) > 1:
        pairs = range(0, len(level) - 1, 2)
        upper = [digest(MERKLE_NODE_TAG, level[i], level[i + 1]) for i in pairs]
        if len(level) % 2:
            upper.append(level[-1])
        level = upper
    return level[0]


@given(tag=tags, part=parts)
def test_one_part_digest(tag: bytes, part: bytes) -> None:
    hasher = OnePartDigest(tag)
    assert hasher(part) == digest(tag, part)
    assert hasher.each([part, part[:7], b""]) == [digest(tag, p) for p in (part, part[:7], b"")]


@given(tag=tags, level=st.lists(hashes, max_size=9))
def test_two_hash_digest_pairs(tag: bytes, level: list[bytes]) -> None:
    expected = [digest(tag, level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    assert TwoHashDigest(tag).pairs(level) == expected


def test_empty_tags_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        OnePartDigest(b"")
    with pytest.raises(ValueError, match="must not be empty"):
        TwoHashDigest(b"")


@given(leaves=st.lists(st.binary(max_size=70), max_size=40))
def test_merkle_root_matches_its_definition(leaves: list[bytes]) -> None:
    assert merkle_root(leaves) == reference_merkle_root(leaves)


@given(leaves=st.lists(hashes, min_size=60, max_size=140))
def test_merkle_root_of_block_sized_trees(leaves: list[bytes]) -> None:
    assert merkle_root(leaves) == reference_merkle_root(leaves)


@given(encoded=st.lists(parts, max_size=6))
def test_transaction_ids(encoded: list[bytes]) -> None:
    expected = [digest(TX_ID_TAG, raw) for raw in encoded]
    assert tx_ids_of(encoded) == expected
    assert [tx_id_of(raw) for raw in encoded] == expected


def test_block_parts_use_the_defined_hashes(ledger: Ledger) -> None:
    raw = ledger.store.get(schema.block(2))
    assert raw is not None
    parts = BlockParts.from_bytes(raw)
    assert len(parts.transactions) == 2
    assert parts.tx_ids() == [digest(TX_ID_TAG, raw) for raw in parts.transactions]
    assert parts.header.tx_root == reference_merkle_root(parts.tx_ids())
