"""Catch-up bookkeeping: how far ahead peers are and when to ask for the next batch."""

from __future__ import annotations

from consensus import Output
from consensus.messages import CommittedBlock, SyncReply, SyncRequest
from consensus.votes import PrepareVote
from node.sync import CatchUp, split_reply


def block(height: int) -> CommittedBlock:
    return CommittedBlock(height, 0, bytes(32), b"block", (1,), (bytes(64),))


def test_heights_seen_make_a_node_syncing() -> None:
    catch_up = CatchUp(2)
    assert not catch_up.syncing(0)
    catch_up.observe(PrepareVote(1, 0, 1, None, bytes(64)))
    assert not catch_up.syncing(0)  # working on the next height is not being behind
    catch_up.observe(SyncReply((block(5), block(6))))
    assert catch_up.syncing(3)
    assert not catch_up.syncing(6)


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
