"""Catch-up bookkeeping: how far ahead peers are and when to ask for the next batch."""

from __future__ import annotations

import dataclasses

import pytest
import trio
import trio.testing

from consensus import Output
from consensus.encoding import NO_ROUND
from consensus.messages import CommittedBlock, LeaderClaim, SyncReply, SyncRequest
from consensus.signer import Ed25519Signer
from consensus.votes import AuthVote, PrepareVote
from ledger.transactions import MemberRole
from node.sync import (
    SYNC_REQUEST_BURST,
    CatchUp,
    SyncRequestGate,
    split_reply,
    vouchers_needed,
)
from node.wire import FrameBatch
from tests.node.app_world import make_world
from tests.node.inprocess import PATIENCE, memory_network, mock_clock_test


def block(height: int, signers: tuple[int, ...] = (1,)) -> CommittedBlock:
    return CommittedBlock(height, 0, bytes(32), b"block", signers, (bytes(64),) * len(signers))


def vote(height: int, voter: int) -> PrepareVote:
    return PrepareVote(height, 0, voter, bytes(32), bytes(64))


def test_heights_seen_make_a_node_syncing() -> None:
    catch_up = CatchUp(2)
    assert not catch_up.syncing(0)
    catch_up.observe(vote(1, 1))
    assert not catch_up.syncing(0)  # working on the next height is not being behind
    catch_up.observe(SyncReply((block(5), block(6))))
    assert catch_up.syncing(3)
    assert not catch_up.syncing(6)


@pytest.mark.parametrize(
    ("n", "quorum", "vouchers"), [(1, 1, 1), (3, 2, 1), (4, 3, 2), (4, 4, 3), (7, 5, 3)]
)
def test_vouchers_are_f_plus_one(n: int, quorum: int, vouchers: int) -> None:
    assert vouchers_needed(n, quorum) == vouchers


def test_one_validator_alone_cannot_make_a_node_believe_it_is_behind() -> None:
    catch_up = CatchUp(1, vouchers=2)
    catch_up.observe(vote(1_000, 4))
    catch_up.observe(LeaderClaim(2_000, 0, 4, NO_ROUND, (), (), (), bytes(64)))
    assert not catch_up.syncing(0)
    # Node 4 naming it again and again is still one voucher.
    assert not catch_up.claims_more(vote(2_000, 4))
    assert catch_up.claims_more(vote(900, 2))
    catch_up.observe(vote(900, 2))
    assert catch_up.highest_seen == 900  # the highest height two validators reached
    assert catch_up.syncing(10)


def test_a_commit_qc_vouches_for_every_signer() -> None:
    catch_up = CatchUp(1, vouchers=2)
    catch_up.observe(SyncReply((block(40), block(41, signers=(2, 3, 4)))))
    assert catch_up.highest_seen == 41
    # A message naming no height (an authorization vote) vouches for nothing.
    assert not catch_up.claims_more(AuthVote(bytes(32), 2, True, b"", bytes(64)))
    with pytest.raises(ValueError, match="at least 1"):
        CatchUp(1, vouchers=0)


@mock_clock_test
async def test_a_byzantine_signer_naming_a_far_height_does_not_make_peers_syncing() -> None:
    world = make_world()  # four validators, quorum 3: f + 1 = 2 must vouch
    chain_id = world.genesis.chain_id
    async with memory_network(world, [1]) as network:
        node = network.parts[1]

        async def signed_vote(height: int, voter: int) -> None:
            unsigned = vote(height, voter)
            signing = unsigned.signing_bytes(chain_id)
            signature = Ed25519Signer(world.node_keys[voter - 1]).sign(signing)
            frame = dataclasses.replace(unsigned, signature=signature).to_bytes()
            await node.consensus.take_batch(FrameBatch((frame,)).to_bytes(), voter, "peer")

        await signed_vote(2**63, 4)
        assert node.view.status().syncing is False
        await signed_vote(1_000, 3)  # a second validator vouches for 1,000
        assert node.view.status().syncing is True


def test_sync_requests_are_served_at_a_bounded_rate_and_only_to_their_sender() -> None:
    gate = SyncRequestGate(burst=2, rate=4.0)
    assert [gate.admits(SyncRequest(1, 4), 4, 10.0) for _ in range(3)] == [True, True, False]
    assert gate.admits(SyncRequest(1, 3), 3, 10.0)  # each peer has its own allowance
    assert not gate.admits(SyncRequest(1, 4), 4, 10.2)
    assert gate.admits(SyncRequest(1, 4), 4, 10.3)  # a quarter second buys one more
    # Node 4 naming node 2 would make this node send blocks to a node that did not ask.
    assert not gate.admits(SyncRequest(1, 2), 4, 99.0)
    assert gate.refused == {4: 3}


@mock_clock_test
async def test_a_flood_of_sync_requests_gets_a_bounded_number_of_replies() -> None:
    world = make_world()
    async with memory_network(world, [1, 2, 3]) as network:
        node = network.parts[1]
        _, register = world.member(MemberRole.REQUESTER)
        await node.view.submit_transaction(register)
        with trio.fail_after(PATIENCE):
            while min(network.heights([1, 2, 3])) < 1:
                await trio.sleep(0.05)
        await trio.testing.wait_all_tasks_blocked()
        before = node.links.queued(4)  # node 4 is down: what is sent to it waits here
        flood = FrameBatch((SyncRequest(1, 4).to_bytes(),) * 200).to_bytes()
        await node.consensus.take_batch(flood, 4, "node4")
        await trio.testing.wait_all_tasks_blocked()
        assert 0 < node.links.queued(4) - before <= SYNC_REQUEST_BURST


def test_a_reply_that_moved_us_asks_for_more() -> None:
    catch_up = CatchUp(2)
    reply = SyncReply((block(1),))
    moved = Output(commits=[block(1)])
    assert catch_up.follow_up(reply, moved, 2) == SyncRequest(2, 2)
    assert catch_up.follow_up(reply, Output(), 2) is None
    assert catch_up.follow_up(SyncRequest(1, 3), moved, 2) is None


def test_replies_are_cut_under_the_limit_in_order() -> None:
    blocks = tuple(
        CommittedBlock(h, 0, bytes(32), b"x" * size, (1,), (bytes(64),))
        for h, size in enumerate([40, 40, 40, 200, 10], start=1)
    )
    pieces = split_reply(SyncReply(blocks), limit=100)
    assert [[b.height for b in p.blocks] for p in pieces] == [[1, 2], [3], [4], [5]]
    assert split_reply(SyncReply(())) == [SyncReply(())]
