"""Ordered transactions (ledger/ordering.py) and the grant threshold floor.

Before these rules an attribute change, grant or revoke signed and then held back could be
submitted after a newer one committed and undo it (the authority's removal of an attribute, an
owner's revocation), and a grant with t = 1 (each node's share the whole re-key) was accepted.
"""

from __future__ import annotations

import dataclasses

import pytest

from crypto.tpre import make_grant
from ledger.errors import InvalidTransaction
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from tests.ledger.test_content_checks import refused

# The ``ledger`` fixture (tests/ledger/conftest.py): alice owns r1, granted to bob (pair version
# 1); bob registered with ("role:doctor",) (attribute chain link 0); genesis threshold 3 of 4.


def test_held_back_attribute_change_is_refused_after_a_newer_one(
    fx: ChainFixture, ledger: Ledger
) -> None:
    bob = fx.member_id("bob")
    # The authority signs a change that gives bob a role, which is held back; not seeing it
    # commit, the authority reads the chain again and signs the change it now wants instead.
    held_back = fx.change_attributes("bob", ("role:doctor", "dept:icu"), "promoted", seq=1)
    newer = fx.change_attributes("bob", (), "left the hospital", seq=1)
    fx.commit(ledger, [newer])
    error = refused(fx, ledger, [held_back], "attribute chain position 1 is already taken")
    assert not error.state_dependent  # it can never apply
    member = ledger.member(bob)
    assert member is not None
    assert member.attributes == ()
    reasons = [link.reason for link in ledger.attribute_history(bob)]
    assert reasons == ["registered", "left the hospital"]


def test_attribute_change_ahead_of_the_chain_waits_for_its_predecessor(
    fx: ChainFixture, ledger: Ledger
) -> None:
    first = fx.change_attributes("bob", ("a",), seq=1)
    second = fx.change_attributes("bob", ("b",), seq=2)
    error = refused(fx, ledger, [second], "position 2 is not reached yet")
    assert error.state_dependent  # a node behind the chain must not call it final
    fx.commit(ledger, [first, second])  # in order, even within one block
    assert [link.attributes for link in ledger.attribute_history(fx.member_id("bob"))] == [
        ("role:doctor",),
        ("a",),
        ("b",),
    ]
    assert ledger.verify().attribute_records == 5  # alice, carol, and bob's three links


def test_held_back_grant_is_refused_after_a_newer_revoke(
    fx: ChainFixture, ledger: Ledger
) -> None:
    r1, bob = fx.record_id("r1"), fx.member_id("bob")
    # alice signs a renewal of bob's grant (version 2), which is held back; she then revokes
    # bob, reading version 1 as the latest, so her revoke is version 2 too.
    held_back = fx.grant("alice", "r1", "bob", version=2, expires_at_ms=fx.time_at(10**6))
    revoke = fx.revoke("alice", "r1", "bob", version=2)
    fx.commit(ledger, [revoke])
    refused(fx, ledger, [held_back], "grant version 2 is already taken: the next is 3")
    assert ledger.grant(r1, bob) is None
    # The owner's own next grant, on the version the chain shows, applies.
    fx.commit(ledger, [fx.grant("alice", "r1", "bob", version=3)])
    entry = ledger.grant(r1, bob)
    assert entry is not None
    assert entry.version == 3


def test_held_back_revoke_is_refused_after_a_newer_grant(
    fx: ChainFixture, ledger: Ledger
) -> None:
    held_back = fx.revoke("alice", "r1", "bob", version=2)
    renewal = fx.grant("alice", "r1", "bob", version=2)
    fx.commit(ledger, [renewal])
    refused(fx, ledger, [held_back], "revoke version 2 is already taken")
    entry = ledger.grant(fx.record_id("r1"), fx.member_id("bob"))
    assert entry is not None
    assert entry.tx_id == renewal.tx_id()


def test_grant_versions_count_per_record_and_grantee(fx: ChainFixture, ledger: Ledger) -> None:
    # carol's first grant on r1 is version 1 whatever bob's pair is at.
    refused(fx, ledger, [fx.grant("alice", "r1", "carol", version=2)], "not reached yet")
    fx.commit(ledger, [fx.grant("alice", "r1", "carol", version=1)])
    revoked = ledger.revocations(fx.record_id("r1"))
    fx.commit(ledger, [fx.revoke("alice", "r1", "carol", version=2)])
    assert revoked == []
    assert [r.version for r in ledger.revocations(fx.record_id("r1"))] == [2]


def test_grant_threshold_below_the_network_threshold_is_refused(
    fx: ChainFixture, ledger: Ledger
) -> None:
    assert fx.genesis.threshold == 3
    # A real, consistent grant with t = 1: every node's share alone is the whole re-key.
    tpre = make_grant(
        fx.group,
        fx.tpre_secret("alice"),
        fx.tpre_secret("carol").public_key(),
        [node.box_public_key() for node in fx.genesis.nodes],
        1,
    )
    weak = dataclasses.replace(
        fx.grant("alice", "r1", "carol", version=1),
        threshold=1,
        sealed_rekey_shares=tpre.to_bytes(),
        commitments=b"",
    ).signed(fx.key_of("alice"), fx.chain_id)
    refused(fx, ledger, [weak], r"threshold 1 is not within 3\.\.4")
    # t = n (stricter than the network) is allowed.
    tpre_all = make_grant(
        fx.group,
        fx.tpre_secret("alice"),
        fx.tpre_secret("carol").public_key(),
        [node.box_public_key() for node in fx.genesis.nodes],
        4,
    )
    strict = dataclasses.replace(
        fx.grant("alice", "r1", "carol", version=1),
        threshold=4,
        sealed_rekey_shares=tpre_all.to_bytes(),
        commitments=b"".join(bytes(f) for f in tpre_all.commitments),
    ).signed(fx.key_of("alice"), fx.chain_id)
    fx.commit(ledger, [strict])


def test_version_and_seq_fields_are_signed(fx: ChainFixture, ledger: Ledger) -> None:
    # Moving a signed change to another chain position breaks its signature.
    change = fx.change_attributes("bob", ("x",), seq=2)
    moved = dataclasses.replace(change, seq=1)
    with pytest.raises(InvalidTransaction, match="not signed by the authority"):
        fx.next_block(ledger, [moved])
