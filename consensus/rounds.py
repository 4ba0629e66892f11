"""Per-height bookkeeping: claims (with their blocks), votes by round, lock and valid value.

Only the first message of each kind from each validator per round is counted; a second,
different one is returned to the caller as an equivocation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from consensus.encoding import NO_ROUND
from consensus.messages import BlockContent, LeaderClaim
from consensus.votes import CommitVote, PrepareVote

V = TypeVar("V", PrepareVote, CommitVote)


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
    """Where a node is inside a round (Tendermint's propose / prevote / precommit): waiting for
    a claim to vote for, prepared (elect+prepare vote sent), commit-voted."""

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
    prepares: VoteBook[PrepareVote] = field(default_factory=VoteBook)
    commits: VoteBook[CommitVote] = field(default_factory=VoteBook)
    blocks: dict[bytes, Candidate] = field(default_factory=dict)
    bad_blocks: set[bytes] = field(default_factory=set)
    built: set[tuple[int, tuple[bytes, ...]]] = field(default_factory=set)
    timers: set[tuple[int, int]] = field(default_factory=set)
    polka_seen: set[int] = field(default_factory=set)
    proven_polkas: set[tuple[int, bytes]] = field(default_factory=set)
    skip_senders: dict[int, set[int]] = field(default_factory=dict)
    sync_asked: set[int] = field(default_factory=set)
    ready_since: float | None = None
    claim_wake: float | None = None

    def claim_with(self, round_: int, block_hash: bytes) -> LeaderClaim | None:
        """The first claim of ``round_`` whose block has ``block_hash``."""
        return next((c for c in self.claims.get(round_, []) if c.block_hash == block_hash), None)
