"""Content checks when a block is applied (and built): keys, member ids and grants.

Before these checks a KeyUpdate with random bytes as its TPRE key, a Grant with random sealed
shares (overwriting a valid grant) and a RegisterMember whose id is not the hash of its key all
committed.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

import pytest

from crypto.groups.scalars import inv_mod
from crypto.tpre import Grant as TpreGrant
from crypto.tpre import UserPublicKey, open_rekey_share, verification_keys, verify_rekey_share
from ledger.content import sealed_share_size
from ledger.errors import InvalidTransaction
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from ledger.transactions import Grant, KeyUpdate, Transaction, member_id_for
from tests.ledger.conftest import snapshot, unchecked_block


def refused(
    fx: ChainFixture, ledger: Ledger, transactions: Sequence[Transaction], reason: str
) -> InvalidTransaction:
    """Check that a block with ``transactions`` is refused for ``reason`` when applied (nothing
    written) and when a proposer builds it; returns the error."""
    block = unchecked_block(fx, ledger, transactions)
    before = snapshot(ledger)
    with pytest.raises(InvalidTransaction, match=reason) as caught:
        ledger.apply(block, fx.commit_qc(block))
    assert snapshot(ledger) == before
    with pytest.raises(InvalidTransaction, match=reason):
        fx.next_block(ledger, transactions)
    return caught.value


def random_bytes(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


# -- KeyUpdate ----------------------------------------------------------------------------------


def key_update(fx: ChainFixture, name: str, **changes: bytes) -> KeyUpdate:
    """``name`` publishing its keys with ``changes`` applied, signed by its current key."""
    tx = dataclasses.replace(fx.publish_key(name), **changes)
    return tx.signed(fx.key_of(name), fx.chain_id)


def bad_tpre_keys(fx: ChainFixture) -> dict[str, bytes]:
    group = fx.group
    x, y = 12345, 67890
    return {
        "random bytes": random_bytes(len(fx.tpre_public("carol"))),
        "truncated": fx.tpre_public("carol")[:-1],
        "X1, X2 of different exponents": UserPublicKey(
            group.g1 * x, group.g2 * y, group.g1 * inv_mod(x, group.order)
        ).to_bytes(),
        "W is not g1^(1/x)": UserPublicKey(group.g1 * x, group.g2 * x, group.g1 * x).to_bytes(),
        "identity": UserPublicKey(group.g1 * 0, group.g2 * 0, group.g1 * 0).to_bytes(),
    }


@pytest.mark.parametrize(
    "case",
    ["random bytes", "truncated", "X1, X2 of different exponents", "W is not g1^(1/x)", "identity"],
)
def test_key_update_with_an_invalid_tpre_key_is_refused(
    fx: ChainFixture, ledger: Ledger, case: str
) -> None:
    material = bad_tpre_keys(fx)[case]
    tx = key_update(fx, "carol", public_key_material=material)
    error = refused(fx, ledger, [tx], "invalid TPRE public key")
    assert not error.state_dependent
    member = ledger.member(fx.member_id("carol"))
    assert member is not None
    assert member.public_key_material == fx.tpre_public("carol")


def test_key_update_publishes_a_valid_tpre_key(fx: ChainFixture, ledger: Ledger) -> None:
    # carol publishes another valid key (a rotation of her TPRE key): accepted.
    other = fx.tpre_secret("carol-2").public_key().to_bytes()
    fx.commit(ledger, [key_update(fx, "carol", public_key_material=other)])
    member = ledger.member(fx.member_id("carol"))
    assert member is not None
    assert member.public_key_material == other


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("new_box_key", bytes(32), "not a usable X25519 public key"),
        ("new_box_key", b"\x01" + bytes(31), "not a usable X25519 public key"),
        ("new_verify_key", bytes(32), "not a valid Ed25519 public key"),
        ("new_verify_key", b"\x01" + bytes(31), "not a valid Ed25519 public key"),
    ],
    ids=["zero box key", "low-order box key", "zero verify key", "identity verify key"],
)
def test_key_update_with_unusable_signing_or_box_keys_is_refused(
    fx: ChainFixture, ledger: Ledger, field: str, value: bytes, reason: str
) -> None:
    refused(fx, ledger, [key_update(fx, "carol", **{field: value})], reason)


# -- RegisterMember -----------------------------------------------------------------------------


def test_member_id_must_be_the_hash_of_the_members_key(fx: ChainFixture, ledger: Ledger) -> None:
    dan = fx.register("dan")
    assert dan.member_id == member_id_for(dan.verify_key)
    forged = dataclasses.replace(dan, member_id=fx.member_id("erin"))
    forged = forged.signed(fx.authority_key, fx.chain_id)
    error = refused(fx, ledger, [forged], "member id is not the hash")
    assert not error.state_dependent
    fx.commit(ledger, [dan])


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("box_key", bytes(32), "not a usable X25519 public key"),
        ("verify_key", b"\x01" + bytes(31), "not a valid Ed25519 public key"),
    ],
    ids=["zero box key", "identity verify key"],
)
def test_registration_with_unusable_keys_is_refused(
    fx: ChainFixture, ledger: Ledger, field: str, value: bytes, reason: str
) -> None:
    tx = dataclasses.replace(fx.register("dan"), **{field: value})
    if field == "verify_key":
        tx = dataclasses.replace(tx, member_id=member_id_for(value))
    refused(fx, ledger, [tx.signed(fx.authority_key, fx.chain_id)], reason)


# -- Grant --------------------------------------------------------------------------------------


def grant_with(
    fx: ChainFixture, tpre: TpreGrant | bytes, grantee: str = "carol", **changes: object
) -> Grant:
    """alice's grant of r1 to ``grantee`` carrying ``tpre`` (and ``changes``), signed by alice.

    Its pair version is the next on the ``ledger`` fixture's chain: carol has never been
    granted r1, bob's grant is version 1.
    """
    base = fx.grant("alice", "r1", grantee, version=2 if grantee == "bob" else 1)
    if isinstance(tpre, TpreGrant):
        tx = dataclasses.replace(
            base,
            sealed_rekey_shares=tpre.to_bytes(),
            commitments=b"".join(bytes(f) for f in tpre.commitments),
        )
    else:
        tx = dataclasses.replace(base, sealed_rekey_shares=tpre)
    tx = dataclasses.replace(tx, **changes)  # type: ignore[arg-type]
    return tx.signed(fx.key_of("alice"), fx.chain_id)


def test_fixture_grants_are_real_grants(fx: ChainFixture, ledger: Ledger) -> None:
    # What the ledger accepts from the fixture is what a node can open and check.
    entry = ledger.grant(fx.record_id("r1"), fx.member_id("bob"))
    assert entry is not None
    group = fx.group
    grant = TpreGrant.from_bytes(group, entry.sealed_rekey_shares)
    keys = verification_keys(group, grant)
    for node in fx.genesis.nodes:
        share = open_rekey_share(group, grant, node.index, fx.node_box_key(node.index))
        verify_rekey_share(group, share, keys[node.index - 1])
    assert all(len(s) == sealed_share_size() for s in grant.sealed_shares)


def test_grant_with_random_shares_does_not_overwrite_a_valid_grant(
    fx: ChainFixture, ledger: Ledger
) -> None:
    r1, bob = fx.record_id("r1"), fx.member_id("bob")
    valid = ledger.grant(r1, bob)
    assert valid is not None
    size = len(valid.sealed_rekey_shares)
    forged = grant_with(fx, random_bytes(size), grantee="bob")
    error = refused(fx, ledger, [forged], "not a TPRE grant")
    assert not error.state_dependent
    assert ledger.grant(r1, bob) == valid


def shares_changed(fx: ChainFixture, change: str) -> TpreGrant:
    tpre = fx.tpre_grant("alice", "carol")
    shares = list(tpre.sealed_shares)
    if change == "one share missing":
        shares = shares[:-1]
    elif change == "one share too many":
        shares.append(shares[0])
    elif change == "short share":
        shares[1] = shares[1][:-1]
    elif change == "long share":
        shares[1] = shares[1] + b"\x00"
    return dataclasses.replace(tpre, sealed_shares=tuple(shares))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("one share missing", "3 sealed re-key shares for 4 nodes"),
        ("one share too many", "5 sealed re-key shares for 4 nodes"),
        ("short share", r"sealed re-key share 2 is \d+ bytes"),
        ("long share", r"sealed re-key share 2 is \d+ bytes"),
    ],
    ids=["one share missing", "one share too many", "short share", "long share"],
)
def test_grant_needs_one_sealed_share_of_the_right_size_per_node(
    fx: ChainFixture, ledger: Ledger, change: str, reason: str
) -> None:
    refused(fx, ledger, [grant_with(fx, shares_changed(fx, change))], reason)


def test_grant_threshold_and_commitments_must_match(fx: ChainFixture, ledger: Ledger) -> None:
    tpre = fx.tpre_grant("alice", "carol")
    assert tpre.threshold == 3
    refused(fx, ledger, [grant_with(fx, tpre, threshold=4)], "threshold 3, transaction 4")
    extra = dataclasses.replace(tpre, commitments=(*tpre.commitments, tpre.commitments[0]))
    refused(fx, ledger, [grant_with(fx, extra)], "t - 1 commitments")
    refused(fx, ledger, [grant_with(fx, tpre, commitments=b"")], "does not repeat")
    fx.commit(ledger, [grant_with(fx, tpre)])


def test_grant_must_embed_the_published_keys(fx: ChainFixture, ledger: Ledger) -> None:
    tpre = fx.tpre_grant("alice", "carol")
    stranger = fx.tpre_secret("mallory").public_key()
    error = refused(
        fx, ledger, [grant_with(fx, dataclasses.replace(tpre, owner=stranger))], "owner key"
    )
    assert error.state_dependent  # a KeyUpdate this node has not seen could publish it
    bobs_key = fx.tpre_secret("bob").public_key()
    refused(fx, ledger, [grant_with(fx, dataclasses.replace(tpre, requester=bobs_key))],
            "grantee key")


def test_grant_to_a_member_without_a_published_key_is_refused(
    fx: ChainFixture, ledger: Ledger
) -> None:
    fx.commit(ledger, [fx.register("dan")])
    error = refused(fx, ledger, [fx.grant("alice", "r1", "dan")], "grantee key")
    assert error.state_dependent
    fx.commit(ledger, [fx.publish_key("dan"), fx.grant("alice", "r1", "dan", version=1)])
    assert ledger.grant(fx.record_id("r1"), fx.member_id("dan")) is not None


def test_unknown_members_are_state_dependent_refusals(fx: ChainFixture, ledger: Ledger) -> None:
    error = refused(fx, ledger, [fx.publish_key("dan")], "not a registered member")
    assert error.state_dependent
    error = refused(fx, ledger, [fx.register("bob")], "already registered")
    assert not error.state_dependent


def test_a_key_published_in_the_registrations_block_is_checked(fx: ChainFixture) -> None:
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    bad = key_update(fx, "dan", public_key_material=random_bytes(192))
    with pytest.raises(InvalidTransaction, match="invalid TPRE public key") as caught:
        fx.next_block(ledger, [fx.register("dan"), bad])
    assert caught.value.index == 1
