"""Seed 000's attribute-hash tree and the stored policy test vectors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import tags
from crypto.errors import DecodeError
from crypto.hashing import digest
from crypto.policy import (
    MAX_LEAVES,
    AttributeHashTree,
    HashGate,
    HashLeaf,
    Policy,
    PolicyError,
    attribute_hash,
    attribute_hashes,
    parse,
)
from crypto.policy.hash_tree import HASH_TREE_VERSION

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "policy_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"

VECTOR_POLICIES = [
    "role:doctor and (dept:cardiology or 2 of (trial:x, trial:y, site:z))",
    "3 of (a or b, c and d, 2 of (e, f, g))",
    "01",
    "1 of (x)",
    "(a and b) and c",
]
VECTOR_HOLDINGS = [[], ["role:doctor", "dept:cardiology"], ["b", "c", "d", "e", "f"], ["01"]]


def test_fig5_style_example() -> None:
    # Seed 000 describes its Fig. 5 by two requesters; this tree is consistent with both.
    tree = AttributeHashTree.from_policy(parse("3 of (a or b, c and d, 2 of (e, f, g))"))
    assert tree.satisfied_by(attribute_hashes({"b", "c", "d", "e", "f"}))
    assert not tree.satisfied_by(attribute_hashes({"a", "c", "e", "f", "g"}))


def test_leaves_hold_tagged_digests() -> None:
    tree = AttributeHashTree.from_policy(parse("a or b"))
    assert isinstance(tree.root, HashGate)
    assert tree.root.children[0] == HashLeaf(attribute_hash("a"))
    assert attribute_hash("a") == digest(b"iomtshare/policy/attribute-hash/v1", b"a")
    # Plain names are not accepted in place of digests.
    assert not tree.satisfied_by({b"a", b"b"})


def test_hash_tree_nodes_are_validated() -> None:
    with pytest.raises(PolicyError):
        HashLeaf(b"short")
    with pytest.raises(PolicyError):
        HashGate(2, (HashLeaf(attribute_hash("a")),))
    with pytest.raises(PolicyError):
        HashGate(1, ())


def test_hash_tree_decoding_rejects_malformed_bytes() -> None:
    good = AttributeHashTree.from_policy(parse("a and (b or c)")).to_bytes()
    wrong_tag = bytes([tags.POLICY]) + good[1:]
    for bad in [good[:-1], good + b"\x00", wrong_tag, good[:2] + b"\x07" + good[3:]]:
        with pytest.raises(DecodeError):
            AttributeHashTree.from_bytes(bad)
    # Too many leaves in one flat gate, built by hand.
    leaf = b"\x00" + bytes(32)
    count = MAX_LEAVES + 1
    header = bytes([tags.POLICY_HASH_TREE, HASH_TREE_VERSION, 1, 0, 1])
    oversized = header + count.to_bytes(4, "big") + leaf * count
    with pytest.raises(DecodeError):
        AttributeHashTree.from_bytes(oversized)


@settings(max_examples=60)
@given(st.sampled_from(VECTOR_POLICIES), st.sets(st.sampled_from("abcdefg")))
def test_hash_tree_round_trip(text: str, held: set[str]) -> None:
    tree = AttributeHashTree.from_policy(parse(text))
    again = AttributeHashTree.from_bytes(tree.to_bytes())
    assert again == tree
    assert again.satisfied_by(attribute_hashes(held)) == parse(text).satisfied_by(held)


def _build_vectors() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for text in VECTOR_POLICIES:
        policy = parse(text)
        out.append(
            {
                "text": text,
                "canonical": str(policy),
                "policy_hex": policy.to_bytes().hex(),
                "hash_tree_hex": AttributeHashTree.from_policy(policy).to_bytes().hex(),
                "holdings": [
                    {"attributes": held, "satisfied": policy.satisfied_by(set(held))}
                    for held in VECTOR_HOLDINGS
                ],
            }
        )
    return out


def test_stored_vectors() -> None:
    if REGENERATE:
        VECTORS.write_text(json.dumps(_build_vectors(), indent=2) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert len(stored) == len(VECTOR_POLICIES)
    for case in stored:
        policy = parse(case["text"])
        assert str(policy) == case["canonical"]
        assert policy.to_bytes().hex() == case["policy_hex"]
        assert Policy.from_bytes(bytes.fromhex(case["policy_hex"])) == policy
        tree = AttributeHashTree.from_bytes(bytes.fromhex(case["hash_tree_hex"]))
        assert tree == AttributeHashTree.from_policy(policy)
        for holding in case["holdings"]:
            held = set(holding["attributes"])
            assert policy.satisfied_by(held) is holding["satisfied"]
            assert tree.satisfied_by(attribute_hashes(held)) is holding["satisfied"]
