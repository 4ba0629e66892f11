"""Per-height bookkeeping: claims, votes by round, proposals, blocks, lock and valid value.

Only the first message of each kind from each validator per round is counted; a second,
different one is returned to the caller as an equivocation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from consensus.encoding import NO_ROUND
from consensus.messages import BlockContent, LeaderClaim, Proposal
from consensus.votes import CommitVote, ElectionVote, PrepareVote

V = TypeVar("V", ElectionVote, PrepareVote, CommitVote)


class VoteBook(Generic[V]):
    """One kind of vote for one height, by round and voter."""

    def __init__(self) -> None:
        self._by_round: dict[int, dict[int, V]] = {}

    def add(self, vote: V) -> V | None:
        """Record ``vote``; return the earlier, different vote of the same voter if any."""
        votes = self._by_round.setdefault(vote.round, {})
        earlier = votes.get(vote.voter)
        if earlier is None:
            votes[vote.voter] = vote
            return None
        return earlier if earlier != vote else None

    def of(self, round_: int) -> dict[int, V]:
        return self._by_round.get(round_, {})

    def get(self, round_: int, voter: int) -> V | None:
        return self._by_round.get(round_, {}).get(voter)

    def rounds(self) -> list[int]:
        return sorted(self._by_round)


def block_tally(votes: dict[int, PrepareVote] | dict[int, CommitVote]) -> Counter[bytes | None]:
    """How many votes each block hash (or nil) has."""
    return Counter(v.block_hash for v in votes.values())


def voters_for(
    votes: dict[int, PrepareVote] | dict[int, CommitVote], block_hash: bytes | None
) -> list[int]:
    return sorted(i for i, v in votes.items() if v.block_hash == block_hash)


@dataclass(slots=True)
class Candidate:
    """A block this node has checked and found valid at this height."""

    block: bytes
    content: BlockContent


class Step:
    """Where a node is inside a round (Tendermint's propose / prevote / precommit)."""

    WAIT_PROPOSAL = 1
    PREPARED = 2
    COMMIT_VOTED = 3


@dataclass(slots=True)
class HeightState:
    """Everything a node tracks while deciding one height."""

    height: int
    round: int = 0
    step: int = Step.WAIT_PROPOSAL
    active: bool = False
    locked_round: int = NO_ROUND
    locked_hash: bytes | None = None
    valid_round: int = NO_ROUND
    valid_hash: bytes | None = None
    claims: dict[int, list[LeaderClaim]] = field(default_factory=dict)
    claim_from: dict[tuple[int, int], LeaderClaim] = field(default_factory=dict)
    election: VoteBook[ElectionVote] = field(default_factory=VoteBook)
    prepares: VoteBook[PrepareVote] = field(default_factory=VoteBook)
    commits: VoteBook[CommitVote] = field(default_factory=VoteBook)
    proposals: dict[int, Proposal] = field(default_factory=dict)
    leaders: dict[int, tuple[int, tuple[ElectionVote, ...]]] = field(default_factory=dict)
    blocks: dict[bytes, Candidate] = field(default_factory=dict)
    bad_blocks: set[bytes] = field(default_factory=set)
    election_done: set[int] = field(default_factory=set)
    timers: set[tuple[int, int]] = field(default_factory=set)
    polka_seen: set[int] = field(default_factory=set)
    skip_senders: dict[int, set[int]] = field(default_factory=dict)
    sync_asked: set[int] = field(default_factory=set)
    ready_since: float | None = None
    claim_wake: float | None = None

    def elected(self, round_: int, quorum: int) -> tuple[int, tuple[ElectionVote, ...]] | None:
        """The leader of ``round_`` and its QC, once a quorum voted for one claim."""
        known = self.leaders.get(round_)
        if known is not None:
            return known
        votes = self.election.of(round_)
        if len(votes) < quorum:
            return None
        tally = Counter((v.claimant, v.claim_hash) for v in votes.values())
        (claimant, claim_hash), count = tally.most_common(1)[0]
        if count < quorum:
            return None
        qc = tuple(
            sorted(
                (v for v in votes.values() if (v.claimant, v.claim_hash) == (claimant, claim_hash)),
                key=lambda v: v.voter,
            )
        )
        self.leaders[round_] = (claimant, qc)
        return self.leaders[round_]
