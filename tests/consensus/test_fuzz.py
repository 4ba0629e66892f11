"""Arbitrary, correctly signed peer messages never crash a node or make it sign twice."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.encoding import NO_ROUND, ItemKind
from consensus.messages import (
    CommitVote,
    LeaderClaim,
    Message,
    PrepareVote,
    Submission,
    SyncRequest,
)
from consensus.output import TimerKind
from consensus.simulation.fake import FakeLedger, FakeRequest, FakeShares, SimApp
from tests.consensus.harness import CHAIN, Peer, decided, make_node

PEERS = {i: Peer(i) for i in (2, 3, 4)}
SUBS = [
    Submission(ItemKind.TX, b"tx:1"),
    Submission(ItemKind.TX, b"tx:2"),
    Submission(ItemKind.REQUEST, FakeRequest(1, True, 2).to_bytes()),
    Submission(ItemKind.REQUEST, FakeRequest(2, False, 1).to_bytes()),
]
peers = st.sampled_from(sorted(PEERS))
# Builds height-1 blocks over an empty ledger, as the node under test starts with one.
_BUILDER = SimApp(2, FakeLedger(), FakeShares())
heights = st.integers(1, 2)
rounds = st.integers(0, 3)
hashes = st.one_of(st.none(), st.sampled_from([bytes(32), b"\x01" * 32]))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    peer = PEERS[draw(peers)]
    kind = draw(st.integers(0, 7))
    h, r = draw(heights), draw(rounds)
    if kind == 0:
        return draw(st.sampled_from(SUBS))
    if kind == 1:
        sub = draw(st.sampled_from(SUBS[2:]))
        approve = draw(st.booleans())
        share = draw(st.sampled_from([None, bytes(64)])) if approve else b""
        return peer.auth_vote(sub, approve=approve, share=share)
    if kind in (2, 3):
        sub = draw(st.sampled_from(SUBS[2:]))
        votes = tuple(PEERS[i].auth_vote(sub) for i in draw(st.sets(peers, max_size=3)))
        return peer.claim(_BUILDER, r, approved=(decided(sub, votes),))
    if kind == 4:
        return peer.prepare(h, r, draw(hashes))
    if kind == 5:
        block_hash = draw(hashes)
        if block_hash is None:
            return _nil_commit(peer, h, r)
        return peer.commit(h, r, block_hash)
    if kind == 6:
        vr = draw(st.sampled_from([NO_ROUND, 0]))
        claim = peer.claim(_BUILDER, r, txs=(SUBS[0].body,), valid_round=vr)
        if draw(st.booleans()):
            claim = peer.sign(dataclasses.replace(claim, block=b"junk"))
        return claim
    return SyncRequest(draw(heights), peer.index)


def _nil_commit(peer: Peer, h: int, r: int) -> CommitVote:
    vote = CommitVote(h, r, peer.index, None, b"")
    return dataclasses.replace(vote, signature=peer.signer.sign(vote.signing_bytes(CHAIN)))


@settings(max_examples=60)
@given(st.lists(st.tuples(messages(), st.booleans()), max_size=40))
def test_node_survives_any_signed_traffic_and_never_equivocates(
    script: list[tuple[Message, bool]],
) -> None:
    node, _ = make_node()
    now = 0.0
    own: dict[tuple[str, int, int], object] = {}
    pending = list(node.start(now).timers)
    for msg, fire_timer in script:
        now += 0.3
        outs = [node.on_message(msg, now)]
        if fire_timer and pending:
            timer = pending.pop(0)
            if timer.kind is not TimerKind.STATUS:
                outs.append(node.on_timer(timer, max(now, timer.deadline)))
        for out in outs:
            pending += out.timers
            for send in out.sends:
                m = send.message
                if isinstance(m, PrepareVote | CommitVote | LeaderClaim):
                    key = (type(m).__name__, m.height, m.round)
                    assert own.setdefault(key, m) == m, f"node signed two {key}"
                    signer = m.claimant if isinstance(m, LeaderClaim) else m.voter
                    assert signer == node.index
