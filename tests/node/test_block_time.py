"""Block time is bounded from below too: a leader cannot freeze it (node/blocks.py).

A leader stamps a block with its own wall clock. Validators refuse a freshly built proposal
whose time lags more than MAX_BLOCK_LAG_MS behind their clocks, so a leader with a frozen (or
Byzantine) clock loses its round and an honest leader's block, with an honest time, commits.
"""

from __future__ import annotations

import pytest

from consensus.encoding import NO_ROUND
from consensus.messages import LeaderClaim
from ledger.transactions import MemberRole, tx_id_of
from node.blocks import MAX_BLOCK_LAG_MS
from tests.node.app_world import START_MS, AppWorld, make_world
from tests.node.inprocess import mock_clock_test
from tests.node.restartable import restartable_network


@mock_clock_test
async def test_a_leader_with_a_frozen_clock_cannot_commit_its_block() -> None:
    world = make_world()
    # Node 2 is the preferred claimant of height 1, round 0: it leads first.
    frozen = {2: lambda: START_MS}
    async with restartable_network(world, clocks=frozen) as network:
        world.now += 2 * MAX_BLOCK_LAG_MS / 1000
        _, register = world.member(MemberRole.REQUESTER)
        await network.running[2].view.submit_transaction(register)
        # Node 2 itself cannot follow: by its clock the honest block is from the future.
        await network.until(lambda: network.committed(tx_id_of(register), [1, 3, 4]))
        block = network.parts[1].app.ledger.block(1)
        assert block is not None
        assert block.block.header.proposer != 2
        assert block.block.header.time_ms == world.clock_ms()


def claim(world: AppWorld, time_ms: int, valid_round: int = NO_ROUND) -> LeaderClaim:
    ledger = world.apps[1].ledger
    block = ledger.build_block(
        round=1,
        time_ms=time_ms,
        proposer=2,
        transactions=[],
        results=[],
        last_commit=None,
    )
    return LeaderClaim(1, 1, 2, valid_round, block.hash(), block.to_bytes(), (), b"")


@pytest.mark.parametrize(
    ("lag_ms", "valid_round", "refused"),
    [
        (MAX_BLOCK_LAG_MS + 1, NO_ROUND, True),
        (MAX_BLOCK_LAG_MS, NO_ROUND, False),
        (-5_000, NO_ROUND, False),  # ahead of our clock: the upper bound's business
        # A re-proposal carries a block a quorum prepared earlier, judged back then.
        (10 * MAX_BLOCK_LAG_MS, 0, False),
    ],
)
def test_only_a_freshly_claimed_block_lagging_too_far_is_refused(
    lag_ms: int, valid_round: int, refused: bool
) -> None:
    world = make_world()
    world.now += 20 * MAX_BLOCK_LAG_MS / 1000  # so that every block time here is past genesis
    blocks = world.apps[1].blocks
    stale = blocks.stale_proposal(claim(world, world.clock_ms() - lag_ms, valid_round))
    assert (stale is not None) == refused
    if refused:
        assert stale is not None
        assert "behind this node's clock" in stale
    garbage = LeaderClaim(1, 1, 2, NO_ROUND, bytes(32), b"not a block", (), b"")
    assert blocks.stale_proposal(garbage) is None  # opening the block refuses it
