"""Static parameters of one consensus network: validators, quorum, threshold rules and timing.

Quorum arithmetic (see docs/consensus.md): two quorums of size ``q`` out of ``n`` share at least
``2q - n`` nodes. Safety needs that overlap to contain an honest node, so a quorum tolerates
``b = 2q - n - 1`` Byzantine nodes; liveness needs ``q`` nodes that are up, so it tolerates
``n - q`` crashed or silent nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.errors import ConfigError


def majority_quorum(n: int) -> int:
    """The default quorum ``floor(n/2) + 1``: safe against crashes only."""
    return n // 2 + 1


def max_byzantine(n: int) -> int:
    """The largest ``f`` with ``n >= 3f + 1``."""
    return (n - 1) // 3


def bft_quorum(n: int) -> int:
    """The Byzantine quorum ``n - f`` with ``f = floor((n-1)/3)`` (``2f+1`` when ``n = 3f+1``)."""
    return n - max_byzantine(n)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Round timing in seconds of (simulated or real) time.

    Round ``r`` waits ``propose + r * increment`` for a proposal, and the prepare and commit
    waits grow by the same increment, so that after the network settles some round is long
    enough for every honest message to arrive. In round 0 a ready node waits
    ``claim_stagger`` times its distance from the round's preferred claimant before claiming,
    so that nodes ready at the same moment rarely split the election.
    """

    propose: float = 1.0
    prepare: float = 0.5
    commit: float = 0.5
    increment: float = 0.5
    batch_delay: float = 0.2
    status_interval: float = 2.0
    claim_stagger: float = 0.05

    def __post_init__(self) -> None:
        values = (
            self.propose,
            self.prepare,
            self.commit,
            self.increment,
            self.batch_delay,
            self.status_interval,
            self.claim_stagger,
        )
        if any(v <= 0 for v in values):
            raise ConfigError("every timeout must be positive")

    def propose_timeout(self, round_: int) -> float:
        return self.propose + round_ * self.increment

    def prepare_timeout(self, round_: int) -> float:
        return self.prepare + round_ * self.increment

    def commit_timeout(self, round_: int) -> float:
        return self.commit + round_ * self.increment


@dataclass(frozen=True, slots=True)
class ConsensusConfig:
    """Parameters every node of one chain agrees on (they come from genesis).

    ``n`` validators have indexes ``1..n``. ``quorum`` is the number of distinct votes that
    elect a leader, approve or deny a request, and lock or commit a block.
    ``max_items`` caps the requests and transactions carried by one block.
    """

    chain_id: str
    n: int
    quorum: int
    timeouts: Timeouts = Timeouts()
    max_items: int = 32

    def __post_init__(self) -> None:
        if not self.chain_id:
            raise ConfigError("chain id must not be empty")
        if self.n < 1 or self.n > 0xFFFF:
            raise ConfigError(f"validator count {self.n} out of range")
        if not majority_quorum(self.n) <= self.quorum <= self.n:
            raise ConfigError(
                f"quorum {self.quorum} must be between {majority_quorum(self.n)} and {self.n}"
            )
        if self.max_items < 1:
            raise ConfigError("a block must be allowed at least one item")

    @classmethod
    def with_majority(
        cls, chain_id: str, n: int, timeouts: Timeouts = Timeouts()
    ) -> ConsensusConfig:
        """Crash-fault configuration with the default majority quorum."""
        return cls(chain_id, n, majority_quorum(n), timeouts)

    @classmethod
    def with_bft(cls, chain_id: str, n: int, timeouts: Timeouts = Timeouts()) -> ConsensusConfig:
        """Byzantine-fault configuration with quorum ``n - f``."""
        return cls(chain_id, n, bft_quorum(n), timeouts)

    @property
    def tolerated_byzantine(self) -> int:
        """Byzantine nodes this quorum stays safe against: ``2q - n - 1``."""
        return 2 * self.quorum - self.n - 1

    @property
    def tolerated_crashes(self) -> int:
        """Silent nodes this quorum stays live with: ``n - q``."""
        return self.n - self.quorum

    @property
    def skip_threshold(self) -> int:
        """Distinct senders seen in a later round that make a node jump to it.

        ``n - q + 1`` senders cannot all be faulty under the fault model the quorum assumes.
        """
        return self.n - self.quorum + 1

    def validators(self) -> range:
        return range(1, self.n + 1)

    def preferred_claimant(self, height: int, round_: int) -> int:
        """The only node whose claim counts in rounds after the first (round-robin)."""
        return (height + round_) % self.n + 1
