"""The consensus inbox: round traffic first, arrival order within a class, a hard bound."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from node.inbox import Inbox, InboxFull
from tests.node.p2p.p2p_testing import trio_test


@trio_test
async def test_urgent_items_come_first_in_arrival_order() -> None:
    inbox: Inbox[str] = Inbox(10)
    inbox.put_nowait("vote-1", urgent=False)
    inbox.put_nowait("claim-1", urgent=True)
    inbox.put_nowait("vote-2", urgent=False)
    inbox.put_nowait("claim-2", urgent=True)
    assert [await inbox.get() for _ in range(4)] == ["claim-1", "claim-2", "vote-1", "vote-2"]


@trio_test
async def test_get_waits_for_the_next_item() -> None:
    inbox: Inbox[int] = Inbox(2)
    got: list[int] = []

    async def consume() -> None:
        got.append(await inbox.get())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        inbox.put_nowait(7, urgent=False)
    assert got == [7]


def test_a_full_inbox_refuses() -> None:
    inbox: Inbox[int] = Inbox(2)
    inbox.put_nowait(1, urgent=False)
    inbox.put_nowait(2, urgent=True)
    with pytest.raises(InboxFull):
        inbox.put_nowait(3, urgent=True)
    assert len(inbox) == 2


@trio_test
async def test_waiting_for_room_ends_when_items_are_taken() -> None:
    inbox: Inbox[int] = Inbox(3)
    for i in range(3):
        inbox.put_nowait(i, urgent=False)
    done: list[str] = []

    async def wait(name: str, count: int) -> None:
        await inbox.wait_for_room(count)
        done.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait, "one", 1)
        nursery.start_soon(wait, "two", 2)
        await trio.testing.wait_all_tasks_blocked()
        assert done == []
        await inbox.get()
        await trio.testing.wait_all_tasks_blocked()
        assert done == ["one"]
        await inbox.get()
    assert sorted(done) == ["one", "two"]
    # Asking for more than the whole inbox waits only for an empty inbox.
    await inbox.get()
    with trio.fail_after(1):
        await inbox.wait_for_room(100)
