"""Applying blocks: every validation rule, and that a rejected block writes nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.block import ElectionSignature
from ledger.errors import GenesisMismatch, InvalidBlock, InvalidTransaction
from ledger.ledger import Ledger
from ledger.qc import CommitSignature
from ledger.testing import ChainFixture
from ledger.transactions import AccessRequest
from tests.ledger.conftest import snapshot, unchecked_block


def test_happy_path_updates_state(fx: ChainFixture, ledger: Ledger) -> None:
    bob, r1 = fx.member_id("bob"), fx.record_id("r1")
    request = fx.request("bob", "r1", at_ms=fx.time_at(3))
    block = fx.commit(ledger, [request], [fx.result(request, granted=True)])
    head = ledger.head()
    assert (head.height, head.block_hash, head.audit_length) == (3, block.hash(), 1)
    assert ledger.access_count(bob, r1) == 1
    assert ledger.pending_request(request.tx_id()) is None
    assert ledger.nonce_used(bob, request.nonce)
    stored = ledger.transaction(request.tx_id())
    assert stored is not None
    assert (stored.transaction, stored.height, stored.position) == (request, 3, 0)


def test_pending_request_waits_for_its_result(fx: ChainFixture, ledger: Ledger) -> None:
    request = fx.request("bob", "r1", at_ms=fx.time_at(3))
    fx.commit(ledger, [request])
    assert ledger.pending_request(request.tx_id()) == request
    fx.commit(ledger, [], [fx.result(request, granted=True)])
    assert ledger.pending_request(request.tx_id()) is None


def _rule_cases() -> list[tuple[str, Callable[[ChainFixture], tuple[list, list]], str]]:
    t3 = ChainFixture().time_at(3)

    def req(fx: ChainFixture, who: str = "bob", record: str = "r1") -> AccessRequest:
        return fx.request(who, record, at_ms=fx.time_at(3))

    def forged_vote(fx: ChainFixture) -> tuple[list, list]:
        request = req(fx)
        result = fx.result(request, granted=True)
        vote = dataclasses.replace(result.votes[0], signature=bytes(64))
        return [request], [dataclasses.replace(result, votes=(vote, *result.votes[1:]))]

    def swapped_share(fx: ChainFixture) -> tuple[list, list]:
        # Node 1's signed approval carrying node 2's share: the signature covers the share.
        request = req(fx)
        result = fx.result(request, granted=True)
        first, second, *rest = result.votes
        vote = dataclasses.replace(first, share=second.share)
        return [request], [dataclasses.replace(result, votes=(vote, second, *rest))]

    def shareless_approval(fx: ChainFixture) -> tuple[list, list]:
        request = req(fx)
        result = fx.result(request, granted=True)
        vote = dataclasses.replace(result.votes[0], share=b"")
        return [request], [dataclasses.replace(result, votes=(vote, *result.votes[1:]))]

    def wrong_record(fx: ChainFixture) -> tuple[list, list]:
        request = req(fx)
        result = fx.result(request, granted=True)
        return [request], [dataclasses.replace(result, record_id=fx.record_id("other"))]

    def unsigned_put(fx: ChainFixture) -> tuple[list, list]:
        tx = fx.put_record("alice", "r2")
        return [dataclasses.replace(tx, signature=fx.key_of("bob").sign(b"x"))], []

    def stale(fx: ChainFixture) -> tuple[list, list]:
        window = fx.genesis.freshness_window_ms
        return [fx.request("bob", "r1", at_ms=fx.time_at(3) - window - 1)], []

    def replay(fx: ChainFixture) -> tuple[list, list]:
        nonce = b"n" * 16
        return [
            fx.request("bob", "r1", at_ms=t3, nonce=nonce),
            fx.request("bob", "r1", at_ms=t3 + 1, nonce=nonce),
        ], []

    def duplicate(fx: ChainFixture) -> tuple[list, list]:
        request = req(fx)
        return [request, request], []

    def over_limit(fx: ChainFixture) -> tuple[list, list]:
        requests = [req(fx) for _ in range(3)]
        return requests, [fx.result(r, granted=True) for r in requests]

    def zero_limit(fx: ChainFixture) -> tuple[list, list]:
        tx = fx.put_record("alice", "r2")
        return [dataclasses.replace(tx, access_limit=0).signed(fx.key_of("alice"), fx.chain_id)], []

    return [
        ("member signs registration", lambda fx: ([fx.register("dan").signed(
            fx.key_of("dan"), fx.chain_id)], []), "not signed by the authority"),
        ("register twice", lambda fx: ([fx.register("bob")], []), "already registered"),
        ("unknown role", lambda fx: ([dataclasses.replace(fx.register("dan"), role=9).signed(
            fx.authority_key, fx.chain_id)], []), "unknown member role"),
        ("change of unknown member", lambda fx: ([fx.change_attributes("dan", ("x",))], []),
         "not a registered member"),
        ("record of unknown owner", lambda fx: ([fx.put_record("dan", "r2")], []),
         "not a registered member"),
        ("record signed by someone else", unsigned_put, "not signed by the owner"),
        ("record id reused", lambda fx: ([fx.put_record("alice", "r1")], []), "already used"),
        ("zero access limit", zero_limit, "at least 1"),
        ("grant on another's record", lambda fx: ([fx.grant("bob", "r1", "carol")], []),
         "does not own"),
        ("grant to non-member", lambda fx: ([fx.grant("alice", "r1", "dan")], []),
         "not a registered member"),
        ("expired grant", lambda fx: ([fx.grant("alice", "r1", "carol", expires_at_ms=t3)], []),
         "already expired"),
        ("revoke without grant", lambda fx: ([fx.revoke("alice", "r1", "carol")], []),
         "no active grant to revoke"),
        ("request of unknown record", lambda fx: ([req(fx, record="nope")], []),
         "does not exist"),
        ("stale request", stale, "freshness window"),
        ("nonce replay", replay, "replay"),
        ("duplicate transaction", duplicate, "duplicate transaction"),
        ("result without request", lambda fx: ([], [fx.result(req(fx), granted=True)]),
         "no pending access request"),
        ("result for other record", wrong_record, "does not match"),
        ("too few votes", lambda fx: ([r := req(fx)], [fx.result(r, granted=True, voters=[1, 2])]),
         "quorum"),
        ("forged vote", forged_vote, "bad signature"),
        ("share swapped into a vote", swapped_share, "bad signature"),
        ("approval without a share", shareless_approval, "approval carries no share"),
        ("over the access limit", over_limit, "access limit 2 reached"),
        ("no grant, no policy", lambda fx: ([r := req(fx, who="carol")],
                                            [fx.result(r, granted=True)]),
         "no active grant for the requester"),
    ]


@pytest.mark.parametrize(("make", "reason"), [c[1:] for c in _rule_cases()],
                         ids=[c[0] for c in _rule_cases()])
def test_rule_violations_are_rejected_without_writes(
    fx: ChainFixture,
    ledger: Ledger,
    make: Callable[[ChainFixture], tuple[list, list]],
    reason: str,
) -> None:
    transactions, results = make(fx)
    block = unchecked_block(fx, ledger, transactions, results)
    before = snapshot(ledger)
    with pytest.raises(InvalidTransaction, match=reason):
        ledger.apply(block, fx.commit_qc(block))
    assert snapshot(ledger) == before
    assert ledger.height == 2
    # The proposer-side builder refuses the same content.
    with pytest.raises(InvalidTransaction, match=reason):
        fx.next_block(ledger, transactions, results)


def _header_cases(fx: ChainFixture) -> list[tuple[str, dict[str, object], str]]:
    return [
        ("wrong chain", {"chain_id": "other"}, "chain"),
        ("wrong height", {"height": 4}, "height"),
        ("wrong parent", {"prev_hash": bytes(32)}, "does not link"),
        ("time goes back", {"time_ms": fx.time_at(1)}, "backwards"),
        ("unknown proposer", {"proposer": 9}, "proposer"),
        ("bad tx root", {"tx_root": bytes(32)}, "tx_root"),
        ("bad results root", {"results_root": bytes(32)}, "results_root"),
        ("bad evidence", {"evidence_hash": bytes(32)}, "evidence_hash"),
        ("bad state root", {}, "state root"),
    ]


@pytest.mark.parametrize("case", range(9))
def test_bad_headers_are_rejected(fx: ChainFixture, ledger: Ledger, case: int) -> None:
    _, changes, reason = _header_cases(fx)[case]
    block = unchecked_block(fx, ledger, [fx.register("dan")], **changes)
    before = snapshot(ledger)
    with pytest.raises(InvalidBlock, match=reason):
        ledger.apply(block, fx.commit_qc(block))
    assert snapshot(ledger) == before


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda qc: dataclasses.replace(qc, signatures=qc.signatures[:2]), "quorum"),
        (lambda qc: dataclasses.replace(qc, signatures=qc.signatures[::-1]), "increasing"),
        (
            lambda qc: dataclasses.replace(
                qc, signatures=(*qc.signatures, ElectionSignature(9, bytes(64)))
            ),
            "not in genesis",
        ),
    ],
)
def test_election_qc_shape_is_checked(
    fx: ChainFixture, ledger: Ledger, mutate: Callable, reason: str
) -> None:
    bad = mutate(fx.election_qc(3))
    block = unchecked_block(fx, ledger, [fx.register("dan")], election_qc=bad)
    with pytest.raises(InvalidBlock, match=f"election QC.*{reason}|{reason}.*"):
        ledger.validate(block)
    with pytest.raises(InvalidBlock, match="election QC"):
        ledger.apply(block, fx.commit_qc(block))
    assert ledger.height == 2


def test_carried_commit_qc_is_required_and_checked(fx: ChainFixture, ledger: Ledger) -> None:
    missing = unchecked_block(fx, ledger, last_commit=None)
    with pytest.raises(InvalidBlock, match="lacks the previous"):
        ledger.apply(missing, fx.commit_qc(missing))
    stored = ledger.block(2)
    assert stored is not None
    weak = dataclasses.replace(stored.commit_qc, signatures=stored.commit_qc.signatures[:2])
    block = unchecked_block(fx, ledger, last_commit=weak)
    with pytest.raises(InvalidBlock, match="quorum"):
        ledger.apply(block, fx.commit_qc(block))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda qc: dataclasses.replace(qc, signatures=qc.signatures[:2]), "quorum"),
        (lambda qc: dataclasses.replace(qc, block_hash=bytes(32)), "different block hash"),
        (lambda qc: dataclasses.replace(qc, height=9), "height"),
        (lambda qc: dataclasses.replace(qc, round=5), "bad signature"),
        (lambda qc: dataclasses.replace(qc, signatures=(qc.signatures[0],) * 3), "increasing"),
        (lambda qc: dataclasses.replace(
            qc, signatures=(*qc.signatures, CommitSignature(7, bytes(64)))), "not in genesis"),
    ],
)
def test_own_commit_qc_is_checked(
    fx: ChainFixture, ledger: Ledger, mutate: Callable, reason: str
) -> None:
    block = fx.next_block(ledger, [fx.register("dan")])
    with pytest.raises(InvalidBlock, match=reason):
        ledger.apply(block, mutate(fx.commit_qc(block)))
    assert ledger.height == 2
    ledger.apply(block, fx.commit_qc(block, signers=[2, 3, 4]))
    assert ledger.height == 3


def test_denials_lead_to_the_blacklist(fx: ChainFixture, ledger: Ledger) -> None:
    carol = fx.member_id("carol")
    for height in range(3, 6):
        request = fx.request("carol", "r1", at_ms=fx.time_at(height))
        fx.commit(ledger, [request], [fx.result(request, granted=False)])
    assert ledger.denial_count(carol) == 3
    assert ledger.is_blacklisted(carol)
    assert [entry.member_id for entry in ledger.blacklist()] == [carol]
    with pytest.raises(InvalidTransaction, match="blacklisted"):
        fx.next_block(ledger, [fx.request("carol", "r1", at_ms=fx.time_at(6))])


def test_blacklisted_requester_cannot_be_granted(fx: ChainFixture, ledger: Ledger) -> None:
    pending = fx.request("bob", "r1", at_ms=fx.time_at(3))
    fx.commit(ledger, [pending])
    for height in range(4, 7):
        request = fx.request("bob", "r1", at_ms=fx.time_at(height))
        fx.commit(ledger, [request], [fx.result(request, granted=False)])
    with pytest.raises(InvalidTransaction, match="blacklisted"):
        fx.next_block(ledger, [], [fx.result(pending, granted=True)])


def test_grant_expiry_and_revocation(fx: ChainFixture, ledger: Ledger) -> None:
    fx.commit(ledger, [fx.grant("alice", "r1", "carol", expires_at_ms=fx.time_at(4))])
    request = fx.request("carol", "r1", at_ms=fx.time_at(4))
    with pytest.raises(InvalidTransaction, match="expired"):
        fx.next_block(ledger, [request], [fx.result(request, granted=True)])
    fx.commit(ledger, [fx.revoke("alice", "r1", "bob")])
    assert [g.grantee for g in ledger.grants(fx.record_id("r1"))] == [fx.member_id("carol")]
    assert [r.grantee for r in ledger.revocations(fx.record_id("r1"))] == [fx.member_id("bob")]
    request = fx.request("bob", "r1", at_ms=fx.time_at(5))
    with pytest.raises(InvalidTransaction, match="no active grant"):
        fx.next_block(ledger, [request], [fx.result(request, granted=True)])


def test_key_rotation_changes_the_signing_key(fx: ChainFixture, ledger: Ledger) -> None:
    old_key = fx.key_of("alice")
    before = ledger.member(fx.member_id("alice"))
    assert before is not None
    fx.commit(ledger, [fx.key_update("alice", "alice-new")])
    member = ledger.member(fx.member_id("alice"))
    assert member is not None
    assert member.verify_key == bytes(fx.key_of("alice").verify_key) != bytes(old_key.verify_key)
    assert member.key_version == before.key_version + 1
    stale = fx.put_record("alice", "r2").signed(old_key, fx.chain_id)
    with pytest.raises(InvalidTransaction, match="not signed by the owner"):
        fx.next_block(ledger, [stale])
    fx.commit(ledger, [fx.put_record("alice", "r2")])


def test_attribute_changes_extend_the_members_chain(fx: ChainFixture, ledger: Ledger) -> None:
    fx.commit(ledger, [fx.change_attributes("bob", ("role:doctor", "dept:icu"), "moved")])
    fx.commit(ledger, [fx.change_attributes("bob", (), "left")])
    history = ledger.attribute_history(fx.member_id("bob"))
    assert [(h.seq, h.attributes, h.reason) for h in history] == [
        (0, ("role:doctor",), "registered"),
        (1, ("role:doctor", "dept:icu"), "moved"),
        (2, (), "left"),
    ]
    assert [h.prev_hash for h in history[1:]] == [h.hash() for h in history[:-1]]
    member = ledger.member(fx.member_id("bob"))
    assert member is not None
    assert (member.attributes, member.attribute_head) == ((), history[-1].hash())


def test_leveldb_ledger_survives_reopen(fx: ChainFixture, tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    with Ledger.open(path, fx.genesis) as ledger:
        fx.commit(ledger, [fx.register("alice")])
        fx.commit(ledger, [fx.put_record("alice", "r1")])
        head = ledger.head()
    with Ledger.open(path, fx.genesis) as again:
        assert again.head() == head
        assert again.record(fx.record_id("r1")) is not None
        fx.commit(again, [fx.put_record("alice", "r2")])
        assert again.verify().height == 3


def test_open_refuses_another_genesis(fx: ChainFixture, tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    Ledger.open(path, fx.genesis).close()
    other = ChainFixture(seed=b"other")
    with pytest.raises(GenesisMismatch):
        Ledger.open(path, other.genesis)
    Ledger.open(path, fx.genesis).close()  # the refused open released the database


def test_genesis_json_round_trip(fx: ChainFixture, tmp_path: Path) -> None:
    path = tmp_path / "genesis.json"
    fx.genesis.save(path)
    loaded = type(fx.genesis).load(path)
    assert loaded == fx.genesis
    assert loaded.hash() == fx.genesis.hash()



def test_validate_checks_without_writing(fx: ChainFixture, ledger: Ledger) -> None:
    block = fx.next_block(ledger, [fx.register("dan")])
    before = snapshot(ledger)
    ledger.validate(block)
    assert snapshot(ledger) == before
    forged = dataclasses.replace(block, header=dataclasses.replace(block.header,
                                                                   state_root=bytes(32)))
    with pytest.raises(InvalidBlock, match="state root"):
        ledger.validate(forged)


def test_genesis_json_rejects_malformed_files(fx: ChainFixture) -> None:
    good = fx.genesis.to_json()
    with pytest.raises(ValueError, match="unknown genesis fields"):
        type(fx.genesis).from_json({**good, "extra": 1})
    with pytest.raises(ValueError, match="missing field 'quorum'"):
        type(fx.genesis).from_json({k: v for k, v in good.items() if k != "quorum"})
    with pytest.raises(ValueError, match="majority"):
        type(fx.genesis).from_json({**good, "quorum": 1})
