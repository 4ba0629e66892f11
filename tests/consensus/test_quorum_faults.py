"""The fault model of each quorum setting, shown on a network split with one two-faced node.

Five validators; a partition keeps {1, 2} and {4, 5} apart while node 3 talks to both sides.
Node 3 is Byzantine in the simplest way: it runs two honest machines, one per side, each
unaware of the other. With the majority quorum (q = 3) each side plus one face of node 3 is a
quorum, so the two sides commit different blocks at height 1: the majority quorum is safe against
crashes only. With the BFT quorum (q = n - f = 4) neither side can commit alone, and once the
partition heals every honest node commits the same block.
"""

from __future__ import annotations

from consensus.app import AccessPayload, CommitPayload
from consensus.config import ConsensusConfig
from consensus.machine import ConsensusNode
from consensus.messages import Message, Submission
from consensus.output import Output, Send, Timer
from consensus.signer import Signer, Verifier
from consensus.simulation.fake import FakeLedger, SimApp
from consensus.simulation.invariants import check_safety
from consensus.simulation.scenario import Partition, Scenario, Submit
from consensus.simulation.simulator import SimNode, run
from consensus.votes import AuthVote

SIDE_A, SIDE_B, TWO_FACED = frozenset({1, 2}), frozenset({4, 5}), 3


def _sender(msg: Message) -> int | None:
    for attr in ("voter", "claimant", "leader", "requester"):
        value = getattr(msg, attr, None)
        if isinstance(value, int):
            return value
    return None


class TwoFacedNode:
    """Two honest machines behind one key, each talking to one side of the partition."""

    def __init__(self, faces: dict[frozenset[int], ConsensusNode]) -> None:
        self._faces = faces
        self.pool = next(iter(faces.values())).pool
        self.height = 1

    def _merge(self, outs: dict[frozenset[int], Output]) -> Output:
        merged = Output()
        for side, out in outs.items():
            for send in out.sends:
                targets = [send.to] if send.to is not None else sorted(side)
                merged.sends += [Send(t, send.message) for t in targets if t in side]
            merged.timers += out.timers
            merged.trace += out.trace
        return merged

    def start(self, now: float) -> Output:
        return self._merge({side: face.start(now) for side, face in self._faces.items()})

    def on_message(self, msg: Message, now: float) -> Output:
        sender = _sender(msg)
        outs = {
            side: face.on_message(msg, now)
            for side, face in self._faces.items()
            if sender is None or sender in side or isinstance(msg, Submission | AuthVote)
        }
        return self._merge(outs)

    def on_timer(self, timer: Timer, now: float) -> Output:
        return self._merge({side: face.on_timer(timer, now) for side, face in self._faces.items()})


def _factory(
    config: ConsensusConfig,
    index: int,
    signer: Signer,
    verifier: Verifier,
    app: SimApp,
    commit_payload: CommitPayload,
    access_payload: AccessPayload,
) -> SimNode:
    payloads = (commit_payload, access_payload)
    if index != TWO_FACED:
        return ConsensusNode.create(config, index, signer, verifier, app, *payloads)
    other = SimApp(index, FakeLedger(), app.shares)
    return TwoFacedNode(
        {
            SIDE_A: ConsensusNode.create(config, index, signer, verifier, app, *payloads),
            SIDE_B: ConsensusNode.create(config, index, signer, verifier, other, *payloads),
        }
    )


def _scenario(quorum: int) -> Scenario:
    split = Partition(0.0, 20.0, (SIDE_A | {TWO_FACED}, SIDE_B | {TWO_FACED}))
    return Scenario(
        seed=5,
        n=5,
        quorum=quorum,
        workload=(Submit(0.1, 1, "tx"), Submit(0.1, 5, "tx")),
        partitions=(split,),
        byzantine={TWO_FACED: frozenset()},
        settle_at=20.0,
        max_time=60.0,
        label=f"two-faced q={quorum}",
    )


def test_majority_quorum_is_not_safe_against_a_byzantine_node() -> None:
    scenario = _scenario(ConsensusConfig.with_majority("sim-chain", 5).quorum)
    result = run(scenario, node_factory=_factory)
    problems = check_safety(result)
    assert any(p.startswith("agreement: height 1") for p in problems), result.summary()


def test_bft_quorum_stays_safe_and_recovers_after_the_split() -> None:
    scenario = _scenario(ConsensusConfig.with_bft("sim-chain", 5).quorum)
    result = run(scenario, node_factory=_factory)
    assert check_safety(result) == [], result.summary()
    honest = [1, 2, 4, 5]
    assert all(len(result.ledgers[i].blocks) >= 1 for i in honest), result.summary()
    first = {result.ledgers[i].blocks[0].block_hash for i in honest}
    assert len(first) == 1
