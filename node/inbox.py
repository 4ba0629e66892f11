"""The consensus task's input queue: round traffic ahead of client traffic.

Under load a node's queue fills with client submissions and authorization votes (each vote
costs share checks). Messages that move a round on (claims with their blocks, prepare votes
that also elect, commit votes, sync) and timers wait behind them in a plain FIFO, long enough
for a round to time out or for a node to claim on its own before it has seen a peer's claim.
This queue hands out round traffic first and keeps arrival order within each class.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import trio

T = TypeVar("T")


class InboxFull(Exception):
    """The inbox holds its maximum number of items."""


class Inbox(Generic[T]):
    """A bounded two-class queue for one consumer task."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._urgent: deque[T] = deque()
        self._normal: deque[T] = deque()
        self._wakeup = trio.Event()
        self._room_waiters = trio.lowlevel.ParkingLot()

    def __len__(self) -> int:
        return len(self._urgent) + len(self._normal)

    def room(self) -> int:
        """How many more items fit."""
        return self._limit - len(self)

    async def wait_for_room(self, count: int) -> None:
        """Wait until ``count`` more items fit (at most the whole inbox is waited for)."""
        count = min(count, self._limit)
        while self.room() < count:
            await self._room_waiters.park()

    def put_nowait(self, item: T, *, urgent: bool) -> None:
        """Queue ``item``; raises :class:`InboxFull` when the inbox is at its limit."""
        if len(self) >= self._limit:
            raise InboxFull(f"inbox holds {self._limit} items")
        (self._urgent if urgent else self._normal).append(item)
        self._wakeup.set()

    async def get(self) -> T:
        """The oldest urgent item, else the oldest normal one; waits while both are empty."""
        while not self._urgent and not self._normal:
            self._wakeup = trio.Event()
            await self._wakeup.wait()
        await trio.lowlevel.checkpoint()
        item = self._urgent.popleft() if self._urgent else self._normal.popleft()
        self._room_waiters.unpark_all()
        return item
