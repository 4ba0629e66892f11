"""The node state machine driven by hand: claims with blocks, elect+prepare votes, locking,
evidence, timers, restart, sync."""

from __future__ import annotations

import dataclasses

import pytest

from consensus.checks import VoteStatus
from consensus.encoding import NO_ROUND, ItemKind
from consensus.evidence import BadShare, Equivocation
from consensus.machine import ConsensusNode
from consensus.messages import (
    CommittedBlock,
    CommitVote,
    LeaderClaim,
    PrepareVote,
    Submission,
    SyncReply,
    SyncRequest,
)
from consensus.output import Output, Timer, TimerKind
from consensus.safety import SafetyState
from consensus.simulation.fake import FakeLedger, FakeShares, SimApp
from consensus.votes import AuthVote
from tests.consensus.harness import (
    Peer,
    decided,
    ident,
    make_node,
    request,
    sent,
    timers,
)

TX = Submission(ItemKind.TX, b"tx:1")
P1, P2, P3, P4 = Peer(1), Peer(2), Peer(3), Peer(4)


def _builder() -> SimApp:
    """An app over an empty ledger, to build height-1 blocks the node under test accepts."""
    return SimApp(2, FakeLedger(), FakeShares())


def test_submission_produces_own_vote_with_share_and_relay() -> None:
    node, _ = make_node()
    sub = request(allowed=True)
    out = node.on_message(sub, 0.0)
    votes = sent(out, AuthVote)
    assert len(votes) == 1
    assert votes[0].approve
    assert votes[0].voter == 1
    assert FakeShares().verify(1, sub.body, votes[0].share)
    assert sent(out, Submission) == [sub]
    denied = node.on_message(request(nonce=2, allowed=False), 0.0)
    vote = sent(denied, AuthVote)[0]
    assert not vote.approve
    assert vote.share == b""


def _after_stagger(node: ConsensusNode, out: Output) -> Output:
    """Node 1 is three places after round 0's preferred claimant (node 2): it claims only when
    its stagger timer fires, and not before."""
    assert not sent(out, LeaderClaim)
    (timer,) = timers(out, TimerKind.CLAIM)
    assert timer.deadline == 3 * node.config.timeouts.claim_stagger
    return node.on_timer(timer, timer.deadline)


def test_round_zero_preferred_claimant_claims_at_once() -> None:
    node, _ = make_node(index=2)
    sub = request(threshold=1)
    node.on_message(sub, 0.0)
    node.on_message(P3.auth_vote(sub), 0.0)
    out = node.on_message(P4.auth_vote(sub), 0.0)
    assert len(sent(out, LeaderClaim)) == 1


def _opened(claim: LeaderClaim) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """The approved and denied request bodies of a claim's block."""
    content = _builder().open_block(1, claim.block).content
    return (
        tuple(d.request.body for d in content.approved),
        tuple(d.request.body for d in content.denied),
    )


def _prepared(out: Output) -> list[bytes | None]:
    return [v.block_hash for v in sent(out, PrepareVote)]


def test_claims_after_quorum_of_approvals_with_t_shares() -> None:
    node, _ = make_node()
    sub = request(threshold=3)
    out = node.on_message(sub, 0.0)
    assert not sent(out, LeaderClaim)
    node.on_message(P2.auth_vote(sub), 0.0)
    out = node.on_message(P3.auth_vote(sub), 0.0)
    out = _after_stagger(node, out)
    (claim,) = sent(out, LeaderClaim)
    # the claim carries the block: the request with the three approvals and their shares
    content = _builder().open_block(1, claim.block).content
    (approved,) = content.approved
    assert approved.request.body == sub.body
    assert sorted(v.voter for v in approved.votes) == [1, 2, 3]
    assert (content.round, content.proposer) == (0, 1)
    # its own elect+prepare vote is for its claim's block, in the same step
    assert _prepared(out) == [claim.block_hash]


def test_denied_request_is_claimed_as_denied() -> None:
    node, _ = make_node()
    sub = request(allowed=False)
    node.on_message(sub, 0.0)
    node.on_message(P2.auth_vote(sub, approve=False), 0.0)
    out = node.on_message(P3.auth_vote(sub, approve=False), 0.0)
    (claim,) = sent(_after_stagger(node, out), LeaderClaim)
    assert _opened(claim) == ((), (sub.body,))


def test_one_election_vote_per_round_for_the_first_valid_claim() -> None:
    node, _ = make_node()
    node.on_message(TX, 0.0)
    first_claim = P2.claim(_builder(), 0, txs=(TX.body,))
    first = node.on_message(first_claim, 0.0)
    second = node.on_message(P3.claim(_builder(), 0, txs=(TX.body,)), 0.0)
    assert _prepared(first) == [first_claim.block_hash]
    assert not sent(second, PrepareVote)
    assert not sent(first, LeaderClaim)
    assert not sent(second, LeaderClaim)


def test_a_quorum_of_prepares_elects_and_locks_without_a_proposal() -> None:
    node, _ = make_node()
    node.on_message(TX, 0.0)
    claim = P2.claim(_builder(), 0, txs=(TX.body,))
    node.on_message(claim, 0.0)
    node.on_message(P2.prepare(1, 0, claim.block_hash), 0.1)
    out = node.on_message(P3.prepare(1, 0, claim.block_hash), 0.1)
    assert [v.block_hash for v in sent(out, CommitVote)] == [claim.block_hash]
    assert node.locked == (0, claim.block_hash)


def test_claim_whose_block_lacks_shares_gets_no_vote() -> None:
    node, _ = make_node()
    sub = request(threshold=2)
    node.on_message(sub, 0.0)
    short = decided(sub, (P2.auth_vote(sub),))  # one approval, quorum is 3
    out = node.on_message(P2.claim(_builder(), 0, approved=(short,)), 0.0)
    assert not sent(out, PrepareVote)
    assert any(e.kind == "bad-block" for e in out.trace)


def test_claim_whose_block_has_a_bad_share_gets_no_vote() -> None:
    node, _ = make_node()
    sub = request(threshold=2)
    node.on_message(sub, 0.0)
    bad = P4.auth_vote(sub, share=bytes(64))
    votes = decided(sub, (P2.auth_vote(sub), P3.auth_vote(sub), bad))
    out = node.on_message(P2.claim(_builder(), 0, approved=(votes,)), 0.0)
    assert not sent(out, PrepareVote)


def test_a_fresh_block_must_name_its_claimant_and_round() -> None:
    node, _ = make_node()
    node.on_message(TX, 0.0)
    # node 2 claims with a block that says node 3 built it
    out = node.on_message(P2.claim(_builder(), 0, txs=(TX.body,), proposer=3), 0.0)
    assert not sent(out, PrepareVote)


def test_in_later_rounds_only_the_preferred_claimant_counts() -> None:
    node, _ = make_node()
    node.on_message(TX, 0.0)
    preferred = node.config.preferred_claimant(1, 1)
    other = next(p for p in (P2, P3, P4) if p.index != preferred)
    node._hs.round = 1  # as if round 0 had failed
    out = node.on_message(other.claim(_builder(), 1, txs=(TX.body,)), 0.0)
    assert not sent(out, PrepareVote)


def test_bad_share_is_evidence_and_not_counted_once_checked_in_idle_time() -> None:
    node, _ = make_node()
    sub = request()
    node.on_message(sub, 0.0)
    bad = P2.auth_vote(sub, share=bytes(64))
    out = node.on_message(bad, 0.0)
    # Signed, so kept; its share (two pairings on real crypto) waits for idle time.
    assert not out.evidence
    assert node.idle_work
    out = node.on_idle(0.0)
    assert out.evidence == [BadShare(bad)]
    assert node.pool.vote_of(ident(sub), 2) is None
    assert not node.idle_work


def test_idle_checks_stop_at_what_a_block_carries_preferred_claimant_first() -> None:
    """Node 1 needs three checked approvals (its own counts) for a block of this request. Idle,
    it checks round 0's preferred claimant (node 2) first although its vote came last, then
    the oldest other; the third peer share is left for a block that carries it."""
    node, _ = make_node()
    sub = request(threshold=3)
    node.on_message(sub, 0.0)
    votes = {p.index: p.auth_vote(sub) for p in (P3, P4, P2)}
    for vote in votes.values():
        node.on_message(vote, 0.0)
    assert node.config.preferred_claimant(1, 0) == 2
    node.on_idle(0.0)
    assert [i for i, v in votes.items() if node.pool.is_checked(v)] == [2]
    node.on_idle(0.0)
    assert [i for i, v in votes.items() if node.pool.is_checked(v)] == [3, 2]
    assert not node.idle_work
    assert not node.pool.is_checked(votes[4])


def test_a_copy_of_a_checked_vote_with_another_decision_is_not_taken_for_it() -> None:
    """Node 2's approval, once checked, must not lend its status to a forged denial carrying
    the same signature: that would be (false) equivocation evidence against node 2."""
    node, _ = make_node()
    sub = request()
    node.on_message(sub, 0.0)
    approval = P2.auth_vote(sub)
    node.on_message(approval, 0.0)
    node.on_idle(0.0)
    forged = dataclasses.replace(approval, approve=False, share=b"")
    out = node.on_message(forged, 0.0)
    assert not out.evidence
    assert node.pool.vote_of(ident(sub), 2) == approval


def test_a_vote_checked_against_the_wrong_request_stays_good_for_its_own() -> None:
    """A block may pair a vote with another request: that check fails, and must not spoil the
    vote for the request it names."""
    node, _ = make_node()
    mine, other = request(nonce=1), request(nonce=2)
    node.on_message(mine, 0.0)
    node.on_message(other, 0.0)
    vote = P3.auth_vote(mine)
    checker = node._checker
    mine_item, other_item = node.pool.request(ident(mine)), node.pool.request(ident(other))
    assert mine_item is not None
    assert other_item is not None
    assert checker.auth_vote(other_item, vote) is VoteStatus.WRONG_REQUEST
    assert checker.auth_vote(mine_item, vote) is VoteStatus.OK


@pytest.mark.parametrize("approval_first", [True, False])
def test_an_equivocating_voters_approval_is_checked_at_once(approval_first: bool) -> None:
    """An approval and a denial from one voter: equivocation, and the approval's share is
    checked then and there, in either order, so its bad share is evidence too."""
    node, _ = make_node()
    sub = request()
    node.on_message(sub, 0.0)
    bad, denial = P4.auth_vote(sub, share=bytes(64)), P4.auth_vote(sub, approve=False)
    evidence = []
    for vote in (bad, denial) if approval_first else (denial, bad):
        evidence += node.on_message(vote, 0.0).evidence
    assert [type(e) for e in evidence] == [BadShare, Equivocation]
    assert not node.idle_work


def test_a_vote_with_a_bad_signature_is_dropped_on_arrival() -> None:
    node, _ = make_node()
    sub = request()
    node.on_message(sub, 0.0)
    forged = dataclasses.replace(P2.auth_vote(sub), signature=bytes(64))
    node.on_message(forged, 0.0)
    assert node.pool.vote_of(ident(sub), 2) is None
    assert not node.idle_work


def test_a_claimant_checks_the_shares_of_its_block_and_leaves_bad_ones_out() -> None:
    """Round 0's preferred claimant at height 1 is node 2. Never idle, it checks the peer
    shares its block needs when it builds, and a bad one is evidence and stays out."""
    node, _ = make_node(index=2)
    sub = request(threshold=3)
    node.on_message(sub, 0.0)
    bad = P1.auth_vote(sub, share=bytes(64))
    node.on_message(bad, 0.0)
    out = node.on_message(P3.auth_vote(sub), 0.0)
    assert out.evidence == [BadShare(bad)]
    assert not sent(out, LeaderClaim)
    out = node.on_message(P4.auth_vote(sub), 0.0)
    (claim,) = sent(out, LeaderClaim)
    content = _builder().open_block(1, claim.block).content
    (approved,) = content.approved
    assert [v.voter for v in approved.votes] == [2, 3, 4]
    assert not node.idle_work


def test_double_prepare_vote_is_evidence() -> None:
    node, _ = make_node()
    node.on_message(TX, 0.0)
    first = P2.prepare(1, 0, bytes(32))
    second = P2.prepare(1, 0, None)
    node.on_message(first, 0.0)
    out = node.on_message(second, 0.0)
    assert out.evidence == [Equivocation(2, 1, 0, first.to_bytes(), second.to_bytes())]


def test_forged_vote_is_dropped_without_evidence() -> None:
    node, _ = make_node()
    node.on_message(TX, 0.0)
    node.on_message(P2.prepare(1, 0, bytes(32)), 0.0)
    forged = dataclasses.replace(P2.prepare(1, 0, None), signature=bytes(64))
    out = node.on_message(forged, 0.0)
    assert not out.evidence


def _locked_node() -> tuple[ConsensusNode, SimApp, LeaderClaim, list[Timer]]:
    """Node 1 locked on a round-0 block of claimant 2; returns the node's pending outputs."""
    node, app = make_node()
    node.on_message(TX, 0.0)
    claim = P2.claim(_builder(), 0, txs=(TX.body,))
    out = node.on_message(claim, 0.1)
    assert _prepared(out) == [claim.block_hash]
    node.on_message(P2.prepare(1, 0, claim.block_hash), 0.2)
    out = node.on_message(P3.prepare(1, 0, claim.block_hash), 0.2)
    assert [v.block_hash for v in sent(out, CommitVote)] == [claim.block_hash]
    assert node.locked == (0, claim.block_hash)
    return node, app, claim, out.timers


def test_locked_node_rejects_a_fresh_block_and_unlocks_on_a_later_polka() -> None:
    node, _, locked, pending = _locked_node()
    (commit_timer,) = [t for t in pending if t.kind is TimerKind.COMMIT]
    out = node.on_timer(commit_timer, commit_timer.deadline)
    assert node.round == 1
    # round 1: the preferred claimant claims with a different, fresh block
    leader = Peer(node.config.preferred_claimant(1, 1))
    fresh = leader.claim(_builder(), 1, txs=(TX.body,), timestamp=99)
    assert fresh.block_hash != locked.block_hash
    out = node.on_message(fresh, 2.0)
    assert _prepared(out) == [None]
    # the others prepared the fresh block in round 1: a polka newer than the lock
    polka = tuple(p.prepare(1, 1, fresh.block_hash) for p in (P2, P3, P4))
    (prepare_timer,) = timers(out, TimerKind.PREPARE)
    out = node.on_timer(prepare_timer, prepare_timer.deadline)
    (commit_timer,) = timers(out, TimerKind.COMMIT)
    node.on_timer(commit_timer, commit_timer.deadline)
    assert node.round == 2
    leader2 = Peer(node.config.preferred_claimant(1, 2))
    # without the polka it cites, the re-proposal waits (no vote)
    bare = leader2.claim(_builder(), 2, valid_round=1, block=fresh.block)
    out = node.on_message(bare, 5.0)
    assert not sent(out, PrepareVote)
    # a node that missed the round-1 prepares votes for it once the claim carries them
    again = leader2.sign(dataclasses.replace(bare, polka=polka))
    other, _, _, _ = _locked_node()
    _to_round(other, 2)
    out = other.on_message(again, 5.0)
    assert _prepared(out) == [fresh.block_hash]


def _to_round(node: ConsensusNode, round_: int) -> None:
    """Let ``node``'s round timers fire (nothing else arrives) until it is in ``round_``."""
    while node.round < round_:
        current = node.round
        for kind in (TimerKind.PROPOSE, TimerKind.PREPARE, TimerKind.COMMIT):
            node.on_timer(Timer(kind, 1, current, 0.0), 0.0)
        assert node.round == current + 1


def test_a_carried_polka_counts_despite_an_equivocating_voter() -> None:
    node, _ = make_node()
    node.on_message(TX, 0.0)
    first = P2.claim(_builder(), 0, txs=(TX.body,))  # node 1 never sees it
    nil = P4.prepare(1, 0, None)
    node.on_message(nil, 0.1)  # node 4 showed node 1 a nil prepare...
    _to_round(node, 1)
    # ...and the others its prepare for the block: the claim of round 1 carries q of them
    polka = tuple(p.prepare(1, 0, first.block_hash) for p in (P2, P3, P4))
    leader = Peer(node.config.preferred_claimant(1, 1))
    again = leader.claim(_builder(), 1, valid_round=0, block=first.block, polka=polka)
    out = node.on_message(again, 3.0)
    assert _prepared(out) == [first.block_hash]
    assert [e.offender for e in out.evidence] == [4]


def test_quorum_of_commit_votes_commits_with_a_qc() -> None:
    node, app, claim, _ = _locked_node()
    node.on_message(P2.commit(1, 0, claim.block_hash), 0.3)
    out = node.on_message(P3.commit(1, 0, claim.block_hash), 0.3)
    (block,) = out.commits
    assert block.block_hash == claim.block_hash
    assert sorted(block.signers) == [1, 2, 3]
    assert app.committed_height() == 1
    assert node.height == 2
    assert not node.pool.items()


def test_a_late_vote_of_the_decided_round_gets_no_blocks_but_a_later_round_does() -> None:
    """Node 4's commit vote crossing the quorum is not a sign of lag: no block is sent back.
    A message of a later round of that height is (node 4 is stuck there): it gets the block."""
    node, _, claim, _ = _locked_node()
    node.on_message(P2.commit(1, 0, claim.block_hash), 0.3)
    node.on_message(P3.commit(1, 0, claim.block_hash), 0.3)
    assert node.height == 2
    late = node.on_message(P4.commit(1, 0, claim.block_hash), 0.31)
    assert not sent(late, SyncReply)
    stuck = node.on_message(P4.prepare(1, 1, None), 2.0)
    (reply,) = sent(stuck, SyncReply)
    assert [b.block_hash for b in reply.blocks] == [claim.block_hash]


def test_stale_timers_do_nothing() -> None:
    node, _, _, pending = _locked_node()
    (commit_timer,) = [t for t in pending if t.kind is TimerKind.COMMIT]
    node.on_timer(commit_timer, commit_timer.deadline)
    out = node.on_timer(commit_timer, commit_timer.deadline + 1)
    assert not out.sends
    assert node.round == 1


def test_restart_keeps_the_lock_and_skips_the_round() -> None:
    _node, app, claim, _ = _locked_node()
    restarted, _ = make_node(ledger=app.ledger)
    assert restarted.locked == (0, claim.block_hash)
    assert restarted.round == 1
    out = restarted.start(10.0)
    assert timers(out, TimerKind.PROPOSE)
    # a fresh block in round 1 is refused by the restarted node too
    leader = Peer(restarted.config.preferred_claimant(1, 1))
    restarted.on_message(TX, 10.0)
    fresh = leader.claim(_builder(), 1, txs=(TX.body,), timestamp=7)
    out = restarted.on_message(fresh, 10.5)
    assert _prepared(out) == [None]


def test_a_first_start_saves_round_zero_before_signing_anything() -> None:
    _node, app = make_node()
    assert app.load_safety_state() == SafetyState(1, 0)
    restarted, _ = make_node(ledger=app.ledger)
    assert (restarted.height, restarted.round) == (1, 1)


def test_round_zero_of_a_new_height_is_not_saved_and_a_restart_skips_it() -> None:
    """After a commit the node enters round 0 of the next height without writing anything; if
    it signs there and crashes, it resumes in round 1 and never signs in round 0 again."""
    node, app, claim, _ = _locked_node()
    for peer in (P2, P3):
        node.on_message(peer.commit(1, 0, claim.block_hash), 0.3)
    assert node.height == 2
    saved = app.load_safety_state()
    second = Submission(ItemKind.TX, b"tx:2")
    node.on_message(second, 1.0)  # work at height 2: round 0 begins
    assert app.load_safety_state() == saved
    leader = Peer(node.config.preferred_claimant(2, 0))
    builder = SimApp(leader.index, app.ledger, FakeShares())
    round_zero = leader.claim(builder, 0, txs=(second.body,), height=2)
    assert _prepared(node.on_message(round_zero, 1.1)) == [round_zero.block_hash]
    restarted, _ = make_node(ledger=app.ledger)
    assert (restarted.height, restarted.round) == (2, 1)
    restarted.start(5.0)
    restarted.on_message(second, 5.0)
    assert app.load_safety_state() == SafetyState(2, 1)
    assert not sent(restarted.on_message(round_zero, 5.1), PrepareVote)


def test_a_node_whose_ledger_lost_blocks_signs_nothing_until_it_is_back() -> None:
    """Saved state at height 2, round 1, over an empty ledger (restored from an old backup):
    the node may have signed anywhere up to there, so it votes on nothing at height 1, catches
    up by sync and resumes at height 2 one round past the saved one."""
    ledger = FakeLedger()
    ledger.safety = SafetyState(2, 1).to_bytes()
    node, app = make_node(ledger=ledger)
    node.start(0.0)
    node.on_message(TX, 0.0)
    claim = P2.claim(_builder(), 0, txs=(TX.body,))
    assert not sent(node.on_message(claim, 0.1), PrepareVote)
    commits = [p.commit(1, 0, claim.block_hash) for p in (P2, P3, P4)]
    voters, signatures = tuple(c.voter for c in commits), tuple(c.signature for c in commits)
    block = CommittedBlock(1, 0, claim.block_hash, claim.block, voters, signatures)
    node.on_message(SyncReply((block,)), 1.0)
    assert (node.height, node.round) == (2, 2)
    assert app.load_safety_state() == SafetyState(2, 2)


def test_lagging_node_syncs_only_blocks_with_a_valid_qc() -> None:
    _node, _, claim, _ = _locked_node()
    commits = [p.commit(1, 0, claim.block_hash) for p in (P2, P3, P4)]
    good = CommittedBlock(
        1,
        0,
        claim.block_hash,
        claim.block,
        tuple(c.voter for c in commits),
        tuple(c.signature for c in commits),
    )
    forged = dataclasses.replace(good, signatures=(bytes(64),) * 3)
    lagging, app = make_node(index=4)
    out = lagging.on_message(SyncReply((forged,)), 1.0)
    assert not out.commits
    out = lagging.on_message(SyncReply((good,)), 1.0)
    assert [b.block_hash for b in out.commits] == [claim.block_hash]
    assert app.committed_height() == 1


def test_messages_for_a_later_height_ask_for_sync() -> None:
    node, _ = make_node()
    out = node.on_message(P3.prepare(5, 0, bytes(32)), 0.0)
    asks = [s.message for s in out.sends if s.to == 3 and isinstance(s.message, SyncRequest)]
    assert [a.from_height for a in asks] == [1]


def test_claim_with_a_forged_signature_is_ignored() -> None:
    node, _ = make_node()
    node.on_message(TX, 0.0)
    good = P2.claim(_builder(), 0, txs=(TX.body,))
    out = node.on_message(dataclasses.replace(good, claimant=3), 0.1)  # 2's signature
    assert not sent(out, PrepareVote)
    assert any(e.kind == "bad-claim" for e in out.trace)


def test_claim_with_an_empty_block_gets_no_vote() -> None:
    node, _ = make_node()
    node.on_message(TX, 0.0)
    empty = P2.claim(_builder(), 0)  # a block with no items
    out = node.on_message(empty, 0.1)
    assert not sent(out, PrepareVote)
    assert node.round == 0
    assert node.locked[0] == NO_ROUND


def test_two_different_claims_of_one_round_are_evidence() -> None:
    node, _ = make_node()
    node.on_message(TX, 0.0)
    first = P2.claim(_builder(), 0, txs=(TX.body,))
    second = P2.claim(_builder(), 0, txs=(TX.body,), timestamp=5)
    node.on_message(first, 0.1)
    out = node.on_message(second, 0.1)
    assert out.evidence == [Equivocation(2, 1, 0, first.to_bytes(), second.to_bytes())]


def test_vote_with_a_wrong_signature_is_dropped() -> None:
    node, _ = make_node()
    sub = request()
    node.on_message(sub, 0.0)
    good = P2.auth_vote(sub)
    forged = dataclasses.replace(good, signature=bytes(64))
    out = node.on_message(forged, 0.0)
    assert not out.evidence
    assert node.pool.vote_of(ident(sub), 2) is None
    node.on_message(good, 0.0)
    assert node.pool.vote_of(ident(sub), 2) == good


def test_a_share_swapped_in_transit_is_dropped_and_blames_nobody() -> None:
    node, _ = make_node()
    sub = request()
    node.on_message(sub, 0.0)
    # Node 2's signed approval with node 3's (correct) share in it: the signature covers the
    # share, so this is nobody's vote, not evidence against node 2.
    swapped = dataclasses.replace(P2.auth_vote(sub), share=P3.auth_vote(sub).share)
    out = node.on_message(swapped, 0.0)
    assert not out.evidence
    assert node.pool.vote_of(ident(sub), 2) is None


def test_ledger_payload_functions_fit_the_injected_signatures() -> None:
    from consensus.app import AccessPayload, CommitPayload
    from ledger.qc import access_vote_payload, commit_vote_payload

    commit: CommitPayload = commit_vote_payload
    access: AccessPayload = access_vote_payload
    assert len(commit("chain", 3, 1, bytes(32))) == 32
    request_id = bytes(32)
    assert access("chain", request_id, True, b"s") != access("chain", request_id, False, b"")
    assert access("chain", request_id, True, b"s") != access("chain", request_id, True, b"t")
