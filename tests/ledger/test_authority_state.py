"""Published attribute keys and domain-key rotations in the state transition."""

from __future__ import annotations

import dataclasses

import pytest

from crypto.abe import fame
from crypto.codec import Writer
from crypto.dual import DomainSecretKey, SealedDomainShare, deal_domain_key, setup
from crypto.groups import load_group
from crypto.tags import CLIENT_ATTRIBUTE_KEY
from ledger import schema
from ledger.authority_state import (
    AttributeKeyEntry,
    DomainEpoch,
    attribute_key,
    current_domain_epoch,
    domain_keys,
    sealed_domain_share,
)
from ledger.errors import InvalidTransaction
from ledger.genesis import DomainKeys
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from ledger.transactions import MemberRole, PublishAttributeKey, RotateDomainKey


def issued_key_bytes(chain_id: str, member_id: bytes, seq: int, head: bytes) -> bytes:
    """The leading fields of an encoded IssuedAttributeKey (the ledger reads only those),
    followed by stand-in attributes, sealed key and signature."""
    writer = Writer(CLIENT_ATTRIBUTE_KEY, 1).text(chain_id).fixed(member_id, 32).u32(seq)
    writer.fixed(head, 32).seq(("role:doctor",), lambda w, a: w.text(a)).blob(b"sealed")
    return writer.fixed(bytes(64), 64).to_bytes()


def publish(fx: ChainFixture, ledger: Ledger, name: str, **changes: object) -> PublishAttributeKey:
    member = ledger.member(fx.member_id(name))
    assert member is not None
    seq, head = member.attribute_seq, member.attribute_head
    tx = PublishAttributeKey(
        member.member_id, seq, head, issued_key_bytes(fx.chain_id, member.member_id, seq, head),
        fx.time_at(ledger.height + 1),
    )
    return dataclasses.replace(tx, **changes).signed(fx.authority_key, fx.chain_id)


def refusal(fx: ChainFixture, ledger: Ledger, tx: object) -> InvalidTransaction:
    with pytest.raises(InvalidTransaction) as caught:
        fx.commit(ledger, [tx])  # type: ignore[list-item]
    return caught.value


# -- attribute keys ---------------------------------------------------------------------------


@pytest.fixture
def members(fx: ChainFixture) -> Ledger:
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    fx.commit(ledger, [fx.register("bob", role=MemberRole.REQUESTER, attributes=("role:doctor",))])
    return ledger


def test_the_latest_published_key_is_kept(fx: ChainFixture, members: Ledger) -> None:
    first = publish(fx, members, "bob")
    fx.commit(members, [first])
    entry = attribute_key(members.store, fx.member_id("bob"))
    assert entry is not None
    assert (entry.attribute_seq, entry.issued_key, entry.height) == (0, first.issued_key, 2)
    assert entry.tx_id == first.tx_id()
    fx.commit(members, [fx.change_attributes("bob", ("role:nurse",))])
    second = publish(fx, members, "bob")
    fx.commit(members, [second])
    latest = attribute_key(members.store, fx.member_id("bob"))
    assert latest is not None
    assert (latest.attribute_seq, latest.tx_id) == (1, second.tx_id())


def test_a_key_for_an_older_link_is_refused(fx: ChainFixture, members: Ledger) -> None:
    held_back = publish(fx, members, "bob")
    fx.commit(members, [fx.change_attributes("bob", ("role:nurse",))])
    error = refusal(fx, members, held_back)
    assert "current link is 1" in error.reason
    assert not error.state_dependent
    assert attribute_key(members.store, fx.member_id("bob")) is None


def test_a_key_for_a_later_link_waits_for_it(fx: ChainFixture, members: Ledger) -> None:
    member_id = fx.member_id("bob")
    ahead = publish(
        fx, members, "bob", attribute_seq=1,
        issued_key=issued_key_bytes(fx.chain_id, member_id, 1, bytes(32)),
    )
    error = refusal(fx, members, ahead)
    assert error.state_dependent


def test_a_key_signed_by_another_than_the_authority_is_refused(
    fx: ChainFixture, members: Ledger
) -> None:
    forged = publish(fx, members, "bob").signed(fx.key_of("bob"), fx.chain_id)
    assert "not signed by the authority" in refusal(fx, members, forged).reason


@pytest.mark.parametrize("what", ["member", "link", "chain", "garbage"])
def test_the_issued_key_must_name_what_the_transaction_names(
    fx: ChainFixture, members: Ledger, what: str
) -> None:
    tx = publish(fx, members, "bob")
    member_id, head = tx.member_id, tx.attribute_head
    inner = {
        "member": issued_key_bytes(fx.chain_id, bytes(32), 0, head),
        "link": issued_key_bytes(fx.chain_id, member_id, 0, bytes(32)),
        "chain": issued_key_bytes("another-chain", member_id, 0, head),
        "garbage": b"\x00" * 80,
    }[what]
    bad = publish(fx, members, "bob", issued_key=inner)
    assert "issued" in refusal(fx, members, bad).reason


def test_a_key_for_an_unknown_member_is_refused(fx: ChainFixture, members: Ledger) -> None:
    tx = publish(fx, members, "bob", member_id=fx.member_id("nobody"))
    assert "not a registered member" in refusal(fx, members, tx).reason


# -- domain-key rotation ----------------------------------------------------------------------


def keyed_fixture() -> tuple[ChainFixture, Ledger]:
    """A 4-node chain (t = 3) whose genesis deals a domain key of epoch 0."""
    fx = ChainFixture(nodes=4, seed=b"rotation")
    group = load_group()
    section, _ = deal(fx, 0)
    fx.genesis = dataclasses.replace(
        fx.genesis, domain=section, fame_public_key=fame.setup(group).public.to_bytes()
    )
    return fx, Ledger.from_store(MemoryStore(), fx.genesis)


def deal(
    fx: ChainFixture, epoch: int, threshold: int | None = None
) -> tuple[DomainKeys, tuple[bytes, ...]]:
    params = setup(load_group())
    secret = DomainSecretKey.generate(params)
    t = threshold or fx.genesis.threshold
    dealing, shares = deal_domain_key(params, secret, t, fx.genesis.size)
    section = DomainKeys(
        epoch, t, secret.public_key(params).to_bytes(),
        tuple(bytes(dealing.verification_key(i)) for i in range(1, fx.genesis.size + 1)),
    )
    boxes = [node.box_public_key() for node in fx.genesis.nodes]
    sealed = SealedDomainShare.seal_all(epoch, shares, boxes)
    return section, tuple(s.to_bytes() for s in sealed)


def rotation(
    fx: ChainFixture, epoch: int, threshold: int | None = None, **changes: object
) -> RotateDomainKey:
    section, sealed = deal(fx, epoch, threshold)
    tx = RotateDomainKey(section, sealed, "scheduled", fx.time_at(1))
    return dataclasses.replace(tx, **changes).signed(fx.authority_key, fx.chain_id)


def test_a_rotation_makes_the_next_epoch_current_and_keeps_the_old() -> None:
    fx, ledger = keyed_fixture()
    assert current_domain_epoch(ledger.store, fx.genesis) == 0
    assert domain_keys(ledger.store, fx.genesis) == fx.genesis.domain
    first = rotation(fx, 1)
    fx.commit(ledger, [first])
    assert current_domain_epoch(ledger.store, fx.genesis) == 1
    assert domain_keys(ledger.store, fx.genesis) == first.domain
    assert domain_keys(ledger.store, fx.genesis, 1) == first.domain
    assert domain_keys(ledger.store, fx.genesis, 0) == fx.genesis.domain
    assert domain_keys(ledger.store, fx.genesis, 2) is None
    second = rotation(fx, 2)
    fx.commit(ledger, [second])
    assert domain_keys(ledger.store, fx.genesis) == second.domain
    assert domain_keys(ledger.store, fx.genesis, 1) == first.domain
    # Node 3 opens its share of epoch 1 from the chain; it matches that epoch's VK_3.
    sealed = sealed_domain_share(ledger.store, 1, 3)
    assert sealed is not None
    assert (sealed.epoch, sealed.index) == (1, 3)
    params = setup(load_group())
    stored = ledger.store.get(schema.domain_epoch(1))
    assert stored is not None
    assert DomainEpoch.from_bytes(stored).height == 1
    from ledger.authority_keys import check_domain_keys

    _, dealing = check_domain_keys(first.domain, load_group(), "domain")
    share = sealed.open(params, dealing, fx.node_box_key(3))
    assert share.index == 3
    assert sealed_domain_share(ledger.store, 0, 3) is None


def test_a_rotation_must_name_the_next_epoch() -> None:
    fx, ledger = keyed_fixture()
    skipping = refusal(fx, ledger, rotation(fx, 2))
    assert "does not follow the current epoch 0" in skipping.reason
    assert skipping.state_dependent
    fx.commit(ledger, [rotation(fx, 1)])
    again = refusal(fx, ledger, rotation(fx, 1))
    assert not again.state_dependent


def test_a_rotation_threshold_below_the_networks_is_refused() -> None:
    fx, ledger = keyed_fixture()
    assert "at least the network's" in refusal(fx, ledger, rotation(fx, 1, threshold=2)).reason


def test_verification_keys_of_another_dealing_are_refused() -> None:
    fx, ledger = keyed_fixture()
    other, _ = deal(fx, 1)
    tx = rotation(fx, 1)
    mixed = dataclasses.replace(
        tx.domain, verification_keys=(other.verification_keys[0], *tx.domain.verification_keys[1:])
    )
    bad = dataclasses.replace(tx, domain=mixed).signed(fx.authority_key, fx.chain_id)
    assert "do not interpolate" in refusal(fx, ledger, bad).reason or "polynomial" in (
        refusal(fx, ledger, bad).reason
    )


def test_shares_must_be_one_per_node_and_labelled_for_it() -> None:
    fx, ledger = keyed_fixture()
    tx = rotation(fx, 1)
    swapped = (tx.sealed_shares[1], tx.sealed_shares[0], *tx.sealed_shares[2:])
    bad = dataclasses.replace(tx, sealed_shares=swapped).signed(fx.authority_key, fx.chain_id)
    assert "labelled node 2" in refusal(fx, ledger, bad).reason
    short = dataclasses.replace(tx, sealed_shares=tx.sealed_shares[:3]).signed(
        fx.authority_key, fx.chain_id
    )
    assert "each of 4 nodes" in refusal(fx, ledger, short).reason


def test_a_rotation_not_signed_by_the_authority_is_refused() -> None:
    fx, ledger = keyed_fixture()
    forged = rotation(fx, 1).signed(fx.node_keys[0], fx.chain_id)
    assert "not signed by the authority" in refusal(fx, ledger, forged).reason


def test_a_genesis_without_a_domain_key_has_nothing_to_rotate(fx: ChainFixture) -> None:
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    error = refusal(fx, ledger, rotation(fx, 1))
    assert "deals no domain key" in error.reason
    assert current_domain_epoch(ledger.store, fx.genesis) is None
    assert domain_keys(ledger.store, fx.genesis) is None


def test_the_entries_round_trip() -> None:
    entry = AttributeKeyEntry(bytes(32), 3, bytes(range(32)), b"key", 7, 9, bytes(32))
    assert AttributeKeyEntry.from_bytes(entry.to_bytes()) == entry
