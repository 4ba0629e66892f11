"""Hypothesis strategies for every consensus wire type."""

from __future__ import annotations

from hypothesis import strategies as st

from consensus.encoding import NO_ROUND, ItemKind
from consensus.evidence import BadShare, Equivocation
from consensus.messages import (
    AuthVote,
    CommittedBlock,
    CommitVote,
    LeaderClaim,
    PrepareVote,
    Submission,
    SyncReply,
    SyncRequest,
)
from consensus.safety import SafetyState

heights = st.integers(min_value=0, max_value=2**64 - 1)
rounds = st.integers(min_value=0, max_value=0xFFFFFFFE)
opt_rounds = st.one_of(st.just(NO_ROUND), rounds)
indexes = st.integers(min_value=1, max_value=0xFFFF)
hashes = st.binary(min_size=32, max_size=32)
opt_hashes = st.one_of(st.none(), hashes)
sigs = st.binary(min_size=64, max_size=64)
blobs = st.binary(max_size=64)

submissions = st.builds(Submission, st.sampled_from(ItemKind), blobs)


@st.composite
def auth_votes(draw: st.DrawFn) -> AuthVote:
    approve = draw(st.booleans())
    share = draw(blobs) if approve else b""
    return AuthVote(draw(hashes), draw(indexes), approve, share, draw(sigs))


prepare_votes = st.builds(PrepareVote, heights, rounds, indexes, opt_hashes, sigs)
commit_votes = st.builds(CommitVote, heights, rounds, indexes, opt_hashes, sigs)
claims = st.builds(
    LeaderClaim,
    heights,
    rounds,
    indexes,
    opt_rounds,
    hashes,
    blobs,
    st.lists(prepare_votes, max_size=3).map(tuple),
    sigs,
)


@st.composite
def committed_blocks(draw: st.DrawFn) -> CommittedBlock:
    signers = tuple(draw(st.lists(indexes, max_size=4)))
    signatures = tuple(draw(sigs) for _ in signers)
    return CommittedBlock(
        draw(heights), draw(rounds), draw(hashes), draw(blobs), signers, signatures
    )


sync_requests = st.builds(SyncRequest, heights, indexes)
sync_replies = st.builds(SyncReply, st.lists(committed_blocks(), max_size=2).map(tuple))
equivocations = st.builds(Equivocation, indexes, heights, opt_rounds, blobs, blobs)
bad_shares = st.builds(BadShare, auth_votes())


@st.composite
def safety_states(draw: st.DrawFn) -> SafetyState:
    if draw(st.booleans()):
        return SafetyState(draw(heights), draw(rounds), draw(rounds), draw(hashes), draw(blobs))
    return SafetyState(draw(heights), draw(rounds))


#: (type, strategy) for every type with to_bytes/from_bytes.
ALL = [
    (Submission, submissions),
    (AuthVote, auth_votes()),
    (LeaderClaim, claims),
    (PrepareVote, prepare_votes),
    (CommitVote, commit_votes),
    (SyncRequest, sync_requests),
    (SyncReply, sync_replies),
    (CommittedBlock, committed_blocks()),
    (Equivocation, equivocations),
    (BadShare, bad_shares),
    (SafetyState, safety_states()),
]

#: The subset that travels on the wire and goes through decode_message.
WIRE = ALL[:7]
