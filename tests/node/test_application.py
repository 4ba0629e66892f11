"""The node's consensus Application under real consensus machines, in memory (no sockets)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest

from consensus.app import Authorization
from consensus.encoding import ItemKind
from consensus.errors import InvalidBlock, InvalidMessage
from crypto.groups import Group
from crypto.tpre import (
    ReEncryptedCiphertext,
    ReEncryptionShare,
    VerifiedShare,
    decrypt_reencrypted,
)
from ledger import encoding, transactions
from ledger.encoding import bytes_decoder
from ledger.transactions import (
    AccessRequest,
    MemberRole,
    Revoke,
    decode_transaction,
    tx_id_of,
)
from node import shares as shares_module
from node.admission import Problem
from node.application import NodeApplication
from tests.node.app_world import METADATA, AppWorld, Member


def problem_of(app: NodeApplication, raw: bytes) -> Problem | None:
    """What ``POST /tx`` would refuse ``raw`` for (decoded once, then admission)."""
    return app.transaction_problem(raw)


def authorize(app: NodeApplication, raw: bytes) -> Authorization:
    return app.authorize(app.decode_item(ItemKind.REQUEST, raw))


def result_of(world: AppWorld, request: bytes, node: int = 1) -> tuple[bool, bytes]:
    ledger = world.apps[node].ledger
    stored = ledger.transaction(tx_id_of(request))
    assert stored is not None
    block = ledger.block(stored.height)
    assert block is not None
    result = next(r for r in block.block.results if r.request_id == tx_id_of(request))
    return result.granted, result.combined_ciphertext


def decide(world: AppWorld, request: bytes, to: int = 1) -> tuple[bool, bytes]:
    world.submit(ItemKind.REQUEST, request, to)
    ident = tx_id_of(request)
    world.run_until(lambda: all(world.apps[i].is_committed(ident) for i in world.apps))
    return result_of(world, request)


def test_granted_request_combines_to_what_the_requester_opens(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    _, requester, record_id = shared
    granted, combined = decide(world, world.request(requester, record_id), to=3)
    assert granted
    opened = ReEncryptedCiphertext.from_bytes(world.group, combined)
    assert decrypt_reencrypted(requester.tpre, opened) == METADATA
    heads = {app.ledger.head().block_hash for app in world.apps.values()}
    assert len(heads) == 1
    for app in world.apps.values():
        assert app.ledger.verify().height == app.ledger.height


def test_a_committed_grant_is_warmed_on_every_node(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    _, requester, record_id = shared
    for app in world.apps.values():
        entry = app.ledger.grant(record_id, requester.member_id)
        assert entry is not None
        assert app.keys.has_grant(entry.tx_id)


def test_ungranted_request_is_denied_and_audited(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    _, record_id = shared[0], shared[2]
    stranger, register = world.member(MemberRole.REQUESTER)
    world.commit_all([register])
    request = world.request(stranger, record_id)
    granted, combined = decide(world, request)
    assert not granted
    assert combined == b""
    audit = world.apps[2].ledger.audit_by_requester(stranger.member_id)
    assert [a.granted for a in audit] == [False]
    assert "no active grant" in world.apps[1].denial_reasons[tx_id_of(request)]


def test_access_limit_then_revocation_deny(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    owner, _, _ = shared
    reader, register = world.member(MemberRole.REQUESTER)
    world.commit_all([register])
    record_id, put = world.put_record(owner, access_limit=1)
    world.commit_all([put])
    world.commit_all([world.grant(owner, record_id, reader)])
    assert decide(world, world.request(reader, record_id))[0]
    assert not decide(world, world.request(reader, record_id))[0]  # limit of 1 reached
    world.commit_all([world.revoke(owner, record_id, reader)])
    request = world.request(reader, record_id)
    assert problem_of(world.apps[1], request) is None  # still admitted, then denied
    assert not authorize(world.apps[1], request).approve


def test_refused_requests_get_no_vote(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    _, requester, record_id = shared
    app = world.apps[1]
    outsider = Member(requester.key.__class__.generate(), requester.tpre)
    cases = {
        "not_registered": world.request(outsider, record_id),
        "unknown_record": world.request(requester, bytes(32)),
        "malformed": b"\x4d\x01garbage",
    }
    for code, raw in cases.items():
        problem = problem_of(app, raw)
        assert problem is not None
        assert problem.code == code
        with pytest.raises(InvalidMessage):
            authorize(app, raw)
    world.now -= 3600  # a request from an hour ago is stale now
    stale = world.request(requester, record_id)
    world.now += 3600
    problem = problem_of(app, stale)
    assert problem is not None
    assert (problem.code, problem.status) == ("stale", 409)


def test_nonce_reuse_is_refused_pending_and_committed(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    _, requester, record_id = shared
    nonce = bytes(range(16))
    first = world.request(requester, record_id, nonce)
    world.now += 0.001
    second = world.request(requester, record_id, nonce)
    assert authorize(world.apps[1], first).threshold == 3
    problem = problem_of(world.apps[1], second)
    assert problem is not None
    assert problem.code == "replayed"


def test_transaction_dry_run_reports_ledger_problems(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    owner, requester, record_id = shared
    app = world.apps[2]
    assert problem_of(app, b"\x00") is not None
    assert problem_of(app, world.put_record(owner)[1]) is None
    revoke = Revoke(record_id, owner.member_id, requester.member_id, 2, 1)
    forged = world.sign(revoke, requester.key)
    problem = problem_of(app, forged)
    assert problem is not None
    assert (problem.code, problem.status) == ("bad_signature", 400)
    again = app.ledger.record(record_id)
    assert again is not None
    duplicate = problem_of(
        app,
        world.sign(Revoke(bytes(32), owner.member_id, requester.member_id, 1, 1), owner.key),
    )
    assert duplicate is not None
    assert duplicate.code == "invalid_transaction"


def test_open_block_rejects_garbage_and_foreign_heights(world: AppWorld) -> None:
    app = world.apps[1]
    with pytest.raises(InvalidBlock):
        app.open_block(app.committed_height() + 1, b"\x55\x01not a block")
    last = app.committed_block(app.committed_height())
    assert last is not None
    with pytest.raises(InvalidBlock):
        app.open_block(app.committed_height() + 1, last.block)


def test_committed_blocks_are_served_with_their_qc(world: AppWorld) -> None:
    app = world.apps[4]
    for height in range(1, app.committed_height() + 1):
        block = app.committed_block(height)
        assert block is not None
        assert block.height == height
        assert len(block.signers) >= world.genesis.quorum
    assert app.committed_block(app.committed_height() + 1) is None


def test_conflicting_transactions_leave_one_out_and_the_chain_goes_on(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    owner = shared[0]
    record_id, first = world.put_record(owner)
    _, second = world.put_record(owner)
    # Same record id, different content: both pass admission alone, only one can commit.
    clash = world.sign(
        dataclasses.replace(decode_transaction(second), record_id=record_id), owner.key
    )
    world.submit(ItemKind.TX, first, to=1)
    world.submit(ItemKind.TX, clash, to=2)
    ids = [tx_id_of(raw) for raw in (first, clash)]
    world.run_until(lambda: any(world.apps[1].is_committed(i) for i in ids))
    world.run_until(lambda: all(len(m.pool) == 0 for m in world.machines.values()))
    assert sum(world.apps[1].is_committed(i) for i in ids) == 1
    _, later = world.put_record(owner)
    world.commit_all([later])
    assert len({app.ledger.head().block_hash for app in world.apps.values()}) == 1


def test_a_request_is_decoded_once_per_node_on_its_way_to_the_block(
    world: AppWorld, shared: tuple[Member, Member, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request taken by the height's leader is decoded once by each node: where it enters the
    node (the leader's API, the others' relay), never again for votes, shares, claims, the
    block, its checks or the commit."""
    _, requester, record_id = shared
    request = world.request(requester, record_id)
    real = bytes_decoder(AccessRequest)
    decodes = 0

    def counting(data: bytes) -> AccessRequest:
        nonlocal decodes
        decodes += data == request
        return real(data)

    # Every way bytes become an AccessRequest (decode_transaction, blocks, from_bytes) ends here.
    monkeypatch.setitem(transactions._DECODERS_BY_TAG, AccessRequest.TAG, counting)
    monkeypatch.setitem(encoding._DECODERS, AccessRequest, counting)
    height = world.apps[1].committed_height() + 1
    leader = world.machines[1].config.preferred_claimant(height, 0)
    world.submit(ItemKind.REQUEST, request, to=leader)
    ident = tx_id_of(request)
    world.run_until(lambda: all(app.is_committed(ident) for app in world.apps.values()))
    assert decodes == len(world.apps)
    stored = world.apps[leader].ledger.block(height)
    assert stored is not None
    assert stored.block.header.proposer == leader
    (result,) = stored.block.results
    assert result.granted
    assert result.request_id == ident  # one id: the consensus item is the ledger transaction


def test_a_share_is_checked_once_by_each_peer_and_never_by_its_maker(
    world: AppWorld, shared: tuple[Member, Member, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each share proof costs two pairings: the maker counts its own share as verified, and a
    peer's share is checked once however many votes, claims and blocks carry it."""
    _, requester, record_id = shared
    checks: Counter[bytes] = Counter()
    real = shares_module.tpre_verify_share

    def counting(group: Group, share: ReEncryptionShare, *args: Any) -> VerifiedShare:
        checks[share.to_bytes()] += 1
        return real(group, share, *args)

    monkeypatch.setattr(shares_module, "tpre_verify_share", counting)
    granted, _ = decide(world, world.request(requester, record_id), to=2)
    assert granted
    assert checks, "the peers' shares were never checked"
    assert max(checks.values()) <= len(world.apps) - 1
