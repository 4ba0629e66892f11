"""The node's consensus loops over in-memory links, on trio's autojump clock.

Real applications, real consensus machines and the node's own loops, links and views; only the
sockets are gone (tests/node/inprocess.py). Timers (batch delay, claim stagger, round timeouts,
the status beacon) run on the mock clock, so waiting them out costs no real time.
"""

from __future__ import annotations

import pytest
import trio

from ledger.transactions import MemberRole
from node.service import NodeParts
from tests.node.app_world import make_world
from tests.node.inprocess import PATIENCE, MemoryNetwork, memory_network, mock_clock_test


async def until_height(network: MemoryNetwork, nodes: list[int], height: int) -> None:
    with trio.fail_after(PATIENCE):
        while min(network.heights(nodes)) < height:
            await trio.sleep(0.05)


async def submit(parts: NodeParts, raw: bytes) -> str:
    return await parts.view.submit_transaction(raw)


@pytest.mark.parametrize("down", [1, 4])
@mock_clock_test
async def test_three_of_four_commit_with_one_node_down(down: int) -> None:
    world = make_world()
    up = [i for i in range(1, 5) if i != down]
    async with memory_network(world, up) as network:
        entry = network.parts[up[0]]
        _, register = world.member(MemberRole.REQUESTER)
        started = trio.current_time()
        tx_id = await submit(entry, register)
        await until_height(network, up, 1)
        # Every live node holds the transaction in the same block, stamped with the
        # application's wall clock, while consensus ran on the (virtual) trio clock.
        blocks = [network.parts[i].app.ledger.block(1) for i in up]
        assert all(b is not None for b in blocks)
        assert len({b.block.hash() for b in blocks if b is not None}) == 1
        stored = entry.app.ledger.transaction(bytes.fromhex(tx_id))
        assert stored is not None
        assert stored.height == 1
        header = blocks[0].block.header if blocks[0] is not None else None
        assert header is not None
        assert header.time_ms == world.clock_ms()
        assert trio.current_time() > started


@mock_clock_test
async def test_a_node_that_starts_late_catches_up() -> None:
    world = make_world()
    async with memory_network(world, [1, 2, 3]) as network:
        for _ in range(3):
            _, register = world.member(MemberRole.REQUESTER)
            await submit(network.parts[1], register)
            height = network.heights([1])[0]
            await until_height(network, [1, 2, 3], height + 1)
        assert network.heights([4]) == [0]
        head = network.heights([1])[0]
        late = await network.start(4)
        await until_height(network, [4], head)
        assert late.app.ledger.head() == network.parts[1].app.ledger.head()
