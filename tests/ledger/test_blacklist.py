"""Denials, the warning before the blacklist, and the authority's unblacklisting
(ledger/blacklist.py), and what a denied sharing result may carry (ledger/decisions.py).

Before: the blacklist came without warning and for good (nothing lifted it), and a denied
result could carry any bytes as its combined ciphertext, and shares.
"""

from __future__ import annotations

import dataclasses

import pytest

from ledger import schema
from ledger.blacklist import standing
from ledger.errors import IntegrityError, InvalidTransaction
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.records import ZERO_HASH, AuditKind, AuditRecord
from ledger.testing import ChainFixture
from ledger.transactions import Unblacklist
from tests.ledger.test_content_checks import refused

# conftest: denial_limit=3; carol is a registered requester without a grant on r1.


def deny(fx: ChainFixture, ledger: Ledger, name: str = "carol") -> None:
    request = fx.request(name, "r1", at_ms=fx.time_at(ledger.height + 1))
    fx.commit(ledger, [request], [fx.result(request, granted=False)])


def blacklist(fx: ChainFixture, ledger: Ledger, name: str = "carol") -> int:
    """Deny ``name`` up to the limit; returns the height of the blacklisting."""
    for _ in range(fx.genesis.denial_limit):
        deny(fx, ledger, name)
    entry = ledger.blacklist_entry(fx.member_id(name))
    assert entry is not None
    return entry.height


def test_standing_warns_before_the_blacklist(fx: ChainFixture, ledger: Ledger) -> None:
    carol = fx.member_id("carol")
    fresh = standing(ledger, fx.genesis, carol)
    assert (fresh.denials, fresh.denials_left, fresh.blacklisted) == (0, 3, False)
    assert fresh.warning() is None
    deny(fx, ledger)
    first = standing(ledger, fx.genesis, carol)
    assert (first.denials, first.denials_left) == (1, 2)
    assert first.warning() == (
        "1 of 3 denials used: 2 more denied requests and this member is blacklisted"
    )
    deny(fx, ledger)
    assert standing(ledger, fx.genesis, carol).to_json() == {
        "denials": 2,
        "denial_limit": 3,
        "denials_left": 1,
        "blacklisted": False,
        "blacklisted_height": None,
        "warning": "2 of 3 denials used: 1 more denied request and this member is blacklisted",
    }
    deny(fx, ledger)
    listed = standing(ledger, fx.genesis, carol)
    assert (listed.denials_left, listed.blacklisted, listed.blacklisted_height) == (0, True, 5)
    warning = listed.warning()
    assert warning is not None
    assert "blacklisted since block 5" in warning
    assert "iomtshare authority unblacklist" in warning


def test_no_warning_while_many_denials_are_left() -> None:
    fx = ChainFixture(nodes=4, denial_limit=5)
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    fx.commit(ledger, [fx.register("alice"), fx.register("carol")])
    fx.commit(ledger, [fx.put_record("alice", "r1")])
    deny(fx, ledger)
    deny(fx, ledger)
    assert standing(ledger, fx.genesis, fx.member_id("carol")).warning() is None  # 3 left
    deny(fx, ledger)
    assert standing(ledger, fx.genesis, fx.member_id("carol")).warning() is not None


def test_unblacklist_restores_access_and_is_on_the_audit_chain(
    fx: ChainFixture, ledger: Ledger
) -> None:
    carol = fx.member_id("carol")
    height = blacklist(fx, ledger)
    with pytest.raises(InvalidTransaction, match="blacklisted"):
        fx.next_block(ledger, [fx.request("carol", "r1", at_ms=fx.time_at(ledger.height + 1))])
    lift = fx.unblacklist("carol", height, "denials came from a misconfigured client")
    fx.commit(ledger, [lift])
    assert not ledger.is_blacklisted(carol)
    assert ledger.denial_count(carol) == 0
    after = standing(ledger, fx.genesis, carol)
    assert (after.denials_left, after.blacklisted) == (3, False)
    # On the audit chain, after the three denials, found by member and by height.
    entries = ledger.audit_by_requester(carol)
    assert [e.kind for e in entries] == [AuditKind.DECISION] * 3 + [AuditKind.UNBLACKLIST]
    entry = entries[-1]
    assert entry == AuditRecord(
        seq=3,
        height=ledger.height,
        kind=AuditKind.UNBLACKLIST,
        request_id=lift.tx_id(),
        record_id=ZERO_HASH,
        requester=carol,
        granted=False,
        approvals=0,
        denials=0,
        result_hash=ZERO_HASH,
        prev_hash=entries[-2].hash(),
    )
    assert ledger.audit_by_heights(ledger.height, ledger.height + 1) == [entry]
    assert ledger.audit_by_record(fx.record_id("r1")) == entries[:3]
    assert ledger.head().audit_head == entry.hash()
    # Access is back: requests are admitted, and a grant lets one through.
    fx.commit(ledger, [fx.grant("alice", "r1", "carol", version=1)])
    request = fx.request("carol", "r1", at_ms=fx.time_at(ledger.height + 1))
    fx.commit(ledger, [request], [fx.result(request, granted=True)])
    assert ledger.access_count(carol, fx.record_id("r1")) == 1
    assert ledger.verify().audit_records == 5


def test_unblacklist_must_be_signed_by_the_authority(fx: ChainFixture, ledger: Ledger) -> None:
    height = blacklist(fx, ledger)
    unsigned = Unblacklist(fx.member_id("carol"), height, "please", fx.genesis.genesis_time_ms)
    for signer in ("carol", "alice"):
        forged = unsigned.signed(fx.key_of(signer), fx.chain_id)
        error = refused(fx, ledger, [forged], "not signed by the authority")
        assert not error.state_dependent
    assert ledger.is_blacklisted(fx.member_id("carol"))


def test_unblacklist_names_the_blacklisting_it_lifts(fx: ChainFixture, ledger: Ledger) -> None:
    refused(fx, ledger, [fx.unblacklist("carol", 3)], "member is not blacklisted")
    first = blacklist(fx, ledger)
    refused(fx, ledger, [fx.unblacklist("carol", first - 1)], f"blacklisted at block {first}")
    held_back = fx.unblacklist("carol", first, "first review")
    fx.commit(ledger, [fx.unblacklist("carol", first, "second review")])
    second = blacklist(fx, ledger)
    assert second > first
    # The lifting of the first blacklisting, held back, cannot lift the second.
    refused(fx, ledger, [held_back], f"blacklisted at block {second}, not {first}")
    assert ledger.is_blacklisted(fx.member_id("carol"))


def test_verify_catches_a_tampered_unblacklist_entry(fx: ChainFixture, ledger: Ledger) -> None:
    height = blacklist(fx, ledger)
    fx.commit(ledger, [fx.unblacklist("carol", height)])
    seq = ledger.head().audit_length - 1
    key = schema.audit(seq)
    entry = ledger.audit_record(seq)
    assert entry is not None
    forged = dataclasses.replace(entry, requester=fx.member_id("bob"))
    ledger.store.put(key, forged.to_bytes())
    with pytest.raises(IntegrityError, match=f"audit {seq}: .*unblacklisting"):
        ledger.verify()


# -- what a denial carries ----------------------------------------------------------------------


def test_denied_result_with_a_combined_ciphertext_is_refused(
    fx: ChainFixture, ledger: Ledger
) -> None:
    request = fx.request("carol", "r1", at_ms=fx.time_at(3))
    result = dataclasses.replace(
        fx.result(request, granted=False), combined_ciphertext=b"leader's bytes"
    )
    with pytest.raises(InvalidTransaction, match="denied result carries a combined ciphertext"):
        fx.next_block(ledger, [request], [result])
    assert ledger.denial_count(fx.member_id("carol")) == 0


def test_denied_result_with_shares_is_refused(fx: ChainFixture, ledger: Ledger) -> None:
    request = fx.request("carol", "r1", at_ms=fx.time_at(3))
    # A quorum of 3 denials plus node 4's approval, which carries its share.
    result = fx.result(request, granted=False, dissenters=[4])
    assert any(vote.share for vote in result.votes)
    with pytest.raises(InvalidTransaction, match="denied result carries approvals"):
        fx.next_block(ledger, [request], [result])
    fx.commit(ledger, [request], [fx.result(request, granted=False)])
    assert ledger.verify().audit_records == 1
