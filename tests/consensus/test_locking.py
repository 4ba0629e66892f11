"""The locking rule is what keeps two blocks from committing at one height.

A scripted network (a drop rule, like an adversarial scheduler) builds the classic case: in
round 0 everyone but node X sees a quorum of prepares and commit-votes block B, and only node Y
receives the commit votes, so Y alone commits B. In round 1, X (the preferred claimant, which
never saw the polka) claims the round with a fresh block B'. Nodes locked on B must prepare nil
on it (the lock check of the elect+prepare vote); a node without that check accepts it and B'
commits at the same height.
"""

from __future__ import annotations

import pytest

from consensus.machine import ConsensusNode
from consensus.messages import CommitVote, PrepareVote, Submission, SyncReply
from consensus.simulation.invariants import check_safety
from consensus.simulation.scenario import Envelope, Scenario, Submit
from consensus.simulation.simulator import run

N, LEADER, Y = 4, 2, 1


class NoLockNode(ConsensusNode):
    """The protocol with the locking rule removed (and nothing else changed)."""

    def _lock_allows(self, block_hash: bytes, valid_round: int) -> bool:
        return True


def _scenario(seed: int = 7) -> Scenario:
    probe = Scenario(seed=0, n=N, quorum=3, workload=())
    x = probe.config().preferred_claimant(1, 1)
    assert x not in (Y, LEADER)

    def drop(env: Envelope) -> bool:
        m = env.message
        if isinstance(m, Submission) and env.sent_at < 0.5:
            return True  # only the round-0 leader knows the transaction at first
        if isinstance(m, PrepareVote) and (m.height, m.round) == (1, 0) and env.dst == x:
            return True  # X never sees the round-0 polka
        if isinstance(m, CommitVote) and (m.height, m.round) == (1, 0) and env.dst != Y:
            return True  # only Y sees the round-0 commit votes
        return isinstance(m, SyncReply)  # and Y cannot hand its block to the others

    return Scenario(
        seed=seed,
        n=N,
        quorum=3,
        workload=(Submit(0.0, LEADER, "tx"),),
        drop=drop,
        max_time=30.0,
        label="lock-test",
    )


# The seed draws the link delays and jitter, so each one is a different interleaving of the
# same schedule.
SEEDS = range(7, 17)


@pytest.mark.parametrize("seed", SEEDS)
def test_without_locking_two_blocks_commit_at_one_height(seed: int) -> None:
    result = run(_scenario(seed), node_factory=NoLockNode.create)
    problems = check_safety(result)
    assert any(p.startswith("agreement: height 1") for p in problems), result.summary()
    # the fresh block the mutant accepted came in the round-1 claim, elected by its prepares
    claims = [e for e in result.trace if e.kind == "claim" and e.round == 1]
    assert claims, result.summary()


@pytest.mark.parametrize("seed", SEEDS)
def test_with_locking_the_same_schedule_stays_safe_and_live(seed: int) -> None:
    result = run(_scenario(seed))
    assert check_safety(result) == [], result.summary()
    first = {ledger.blocks[0].block_hash for ledger in result.ledgers.values()}
    assert len(first) == 1
    assert all(len(ledger.blocks) == 1 for ledger in result.ledgers.values())
