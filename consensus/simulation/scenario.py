"""Descriptions of simulated runs: network behaviour, faults, Byzantine nodes and workload."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from consensus.config import ConsensusConfig, Timeouts, bft_quorum, majority_quorum


class Behavior(Enum):
    """Ways a Byzantine node departs from the protocol (it follows it otherwise)."""

    BAD_SHARES = "bad-shares"  # approvals carry a wrong share value
    BAD_PROOFS = "bad-proofs"  # right share value, wrong proof
    FLIP_VOTES = "flip-votes"  # approves what it should deny and the reverse
    EMPTY_CLAIMS = "empty-claims"  # claims leadership without the shares or votes
    DOUBLE_VOTES = "double-votes"  # different election/prepare/commit votes to different peers
    CONFLICTING_PROPOSALS = "conflicting-proposals"  # two different blocks when leader
    BAD_BLOCKS = "bad-blocks"  # as leader, slips an approval with a bad share into its block


@dataclass(frozen=True, slots=True)
class LinkModel:
    """Per-link base delay drawn once in [min_delay, max_delay], plus per-message jitter
    (which reorders), and loss and duplication probabilities until the network settles."""

    min_delay: float = 0.005
    max_delay: float = 0.05
    jitter: float = 0.03
    loss: float = 0.0
    duplicate: float = 0.0


@dataclass(frozen=True, slots=True)
class Partition:
    """Between ``start`` and ``end`` only nodes of the same group can talk."""

    start: float
    end: float
    groups: tuple[frozenset[int], ...]

    def separates(self, a: int, b: int, now: float) -> bool:
        if not self.start <= now < self.end:
            return False
        return not any(a in g and b in g for g in self.groups)


@dataclass(frozen=True, slots=True)
class Crash:
    """Node ``node`` stops at ``at`` and, unless ``restart`` is None, restarts from its ledger."""

    node: int
    at: float
    restart: float | None = None


@dataclass(frozen=True, slots=True)
class CrashOn:
    """Crash the first node whose step emits trace event ``trigger`` ("claim": the claim with
    its block and the claimant's own prepare go out in one step; "leader-prepare" or
    "leader-commit-vote": a prepare or commit vote by a node that claimed at that height, in
    that round or a later one), after only a random part of that step's messages went out;
    restart it ``restart_after`` later."""

    trigger: str
    restart_after: float | None = None


@dataclass(frozen=True, slots=True)
class Submit:
    """A client submits an access request (``allowed`` is the ground truth) or a transaction."""

    at: float
    node: int
    kind: str  # "request" or "tx"
    allowed: bool = True
    threshold: int = 1


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message in flight, as seen by a scripted drop rule."""

    src: int
    dst: int
    sent_at: float
    message: object


DropRule = Callable[[Envelope], bool]


@dataclass(frozen=True)
class Scenario:
    """One deterministic run: same scenario and seed, same trace."""

    seed: int
    n: int
    quorum: int
    workload: tuple[Submit, ...]
    link: LinkModel = LinkModel()
    partitions: tuple[Partition, ...] = ()
    crashes: tuple[Crash, ...] = ()
    crash_on: tuple[CrashOn, ...] = ()
    byzantine: dict[int, frozenset[Behavior]] = field(default_factory=dict)
    settle_at: float = 0.0
    max_time: float = 120.0
    real_crypto: bool = False
    wire_bytes: bool = False
    timeouts: Timeouts = field(default_factory=Timeouts)
    drop: DropRule | None = None
    label: str = ""

    def config(self) -> ConsensusConfig:
        return ConsensusConfig("sim-chain", self.n, self.quorum, self.timeouts)

    def honest(self) -> list[int]:
        return [i for i in range(1, self.n + 1) if i not in self.byzantine]


MIXES = (
    "clean",
    "lossy",
    "partition",
    "crash-restart",
    "leader-crash",
    "byzantine-shares",
    "byzantine-equivocation",
)


def random_scenario(seed: int, n: int, mix: str, real_crypto: bool = False) -> Scenario:
    """A seeded scenario of one fault mix. Crash mixes use the majority quorum; Byzantine mixes
    the BFT quorum; every fault ends by ``settle_at`` so liveness can be checked afterwards."""
    rng = random.Random(f"{seed}/{n}/{mix}")
    f_bft = (n - 1) // 3
    quorum = bft_quorum(n) if mix.startswith("byzantine") else majority_quorum(n)
    max_t = min(quorum, n - f_bft) if mix.startswith("byzantine") else quorum
    workload = []
    for k in range(rng.randint(2, 4)):
        kind = "request" if k == 0 or rng.random() < 0.7 else "tx"
        workload.append(
            Submit(
                at=rng.uniform(0.0, 3.0),
                node=rng.randint(1, n),
                kind=kind,
                allowed=rng.random() < 0.75,
                threshold=rng.randint(1, max_t),
            )
        )
    link = LinkModel()
    partitions: tuple[Partition, ...] = ()
    crashes: tuple[Crash, ...] = ()
    crash_on: tuple[CrashOn, ...] = ()
    byzantine: dict[int, frozenset[Behavior]] = {}
    settle = 0.0
    if mix == "lossy":
        link = LinkModel(0.005, 0.08, 0.1, loss=rng.uniform(0.05, 0.3), duplicate=0.1)
        settle = 8.0
    elif mix == "partition":
        nodes = list(range(1, n + 1))
        rng.shuffle(nodes)
        cut = rng.randint(1, n - 1)
        start = rng.uniform(0.0, 3.0)
        end = start + rng.uniform(1.0, 8.0)
        partitions = (Partition(start, end, (frozenset(nodes[:cut]), frozenset(nodes[cut:]))),)
        link = LinkModel(duplicate=0.05)
        settle = end
    elif mix == "crash-restart":
        victims = rng.sample(range(1, n + 1), n - quorum)
        crash_list = []
        for v in victims:
            at = rng.uniform(0.0, 6.0)
            restart = at + rng.uniform(0.5, 6.0) if rng.random() < 0.7 else None
            crash_list.append(Crash(v, at, restart))
        crashes = tuple(crash_list)
        link = LinkModel(loss=0.02)
        settle = max((c.restart or c.at) for c in crashes) if crashes else 0.0
    elif mix == "leader-crash":
        # A claimant dies while sending its claim (which carries its block), while voting
        # on a claim, or while commit-voting; a second crash may hit whoever leads next.
        triggers = ["claim", "leader-prepare", "leader-commit-vote"]
        crash_on = tuple(
            CrashOn(
                rng.choice(triggers),
                rng.uniform(0.5, 5.0) if rng.random() < 0.7 else None,
            )
            for _ in range(rng.randint(1, n - quorum))
        )
        link = LinkModel(loss=0.02)
        settle = 8.0
    elif mix.startswith("byzantine"):
        bad = rng.sample(range(1, n + 1), f_bft)
        if mix == "byzantine-shares":
            pool = [
                Behavior.BAD_SHARES,
                Behavior.BAD_PROOFS,
                Behavior.FLIP_VOTES,
                Behavior.EMPTY_CLAIMS,
                Behavior.BAD_BLOCKS,
            ]
        else:
            pool = [Behavior.DOUBLE_VOTES, Behavior.CONFLICTING_PROPOSALS, Behavior.EMPTY_CLAIMS]
        for b in bad:
            byzantine[b] = frozenset(rng.sample(pool, rng.randint(1, len(pool))))
        link = LinkModel(loss=0.02, duplicate=0.05)
        settle = 0.0
    elif mix != "clean":
        raise ValueError(f"unknown fault mix {mix!r}")
    if settle and link.loss:
        settle = max(settle, 8.0)
    return Scenario(
        seed=seed,
        n=n,
        quorum=quorum,
        workload=tuple(workload),
        link=link,
        partitions=partitions,
        crashes=crashes,
        crash_on=crash_on,
        byzantine=byzantine,
        settle_at=settle,
        max_time=settle + 90.0,
        real_crypto=real_crypto,
        wire_bytes=rng.random() < 0.2,
        label=f"{mix} n={n} seed={seed}",
    )
