"""A short memory of items the consensus nodes said they do not have (for
:class:`node.edge.proofs.ProofFetcher`): asking again for the same unknown id within
``seconds`` is answered from here, so repeating a random id costs no proof request."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

#: How long a not-found answer is remembered, and for how many items at most.
NOT_FOUND_SECONDS = 2.0
NOT_FOUND_ITEMS = 4096


class NotFoundCache:
    """Bounded LRU of ``(kind, item_id)`` keys, each forgotten ``seconds`` after it was put."""

    def __init__(
        self,
        seconds: float = NOT_FOUND_SECONDS,
        items: int = NOT_FOUND_ITEMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if items < 1 or seconds < 0:
            raise ValueError("a not-found cache needs room for an item and a time >= 0")
        self._seconds = seconds
        self._items = items
        self._clock = clock
        self._until: OrderedDict[tuple[int, bytes], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._until)

    def put(self, kind: int, item_id: bytes) -> None:
        key = (kind, item_id)
        self._until[key] = self._clock() + self._seconds
        self._until.move_to_end(key)
        while len(self._until) > self._items:
            self._until.popitem(last=False)

    def hit(self, kind: int, item_id: bytes) -> bool:
        """Whether a not-found for the item is remembered and still fresh."""
        key = (kind, item_id)
        until = self._until.get(key)
        if until is None:
            return False
        if self._clock() >= until:
            del self._until[key]
            return False
        return True

    def drop(self, kind: int, item_id: bytes) -> None:
        self._until.pop((kind, item_id), None)
