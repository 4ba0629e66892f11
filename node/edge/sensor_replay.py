"""The edge's sensor replay cache on disk: a restarted edge takes no upload twice.

:class:`ReplayStore` keeps each accepted message id with its timestamp under the prefix ``r``
of the sensor store (LevelDB under ``EDGE_HOME/data/sensors``); a message is refused while its
timestamp is inside the freshness window, and past the window the window check refuses it
anyway, so :meth:`ReplayStore.prune` drops it.
"""

from __future__ import annotations

from crypto.light import FreshnessWindow, ReplayError
from ledger.kv import KeyValueStore

_REPLAY = b"r"
#: Expired replay ids are dropped after this many accepted uploads (and when the edge starts).
PRUNE_EVERY = 256


class ReplayStore:
    """Replay ids with their timestamps in a key-value store, so a restart forgets none.

    A message id is refused while its timestamp is inside the window; past it the window check
    refuses the message anyway, so :meth:`prune` drops it.
    """

    def __init__(self, store: KeyValueStore, window: FreshnessWindow) -> None:
        self.store, self.window = store, window
        self._accepted = 0

    def check(self, message_id: bytes, timestamp: int, now: int) -> None:
        self.window.check(timestamp, now)
        if self.store.get(_REPLAY + message_id) is not None:
            raise ReplayError("message was already accepted")

    def accept(self, message_id: bytes, timestamp: int, now: int) -> None:
        self.store.put(_REPLAY + message_id, timestamp.to_bytes(8, "big"), sync=True)
        self._accepted += 1
        if self._accepted % PRUNE_EVERY == 0:
            self.prune(now)

    def forget(self, message_id: bytes) -> None:
        """Drop an accepted id again: the message was not acted on, so it may come again."""
        self.store.delete(_REPLAY + message_id, sync=True)

    def prune(self, now: int) -> int:
        """Drop the ids whose timestamps left the window; returns how many."""
        oldest = now - self.window.max_age
        old = [k for k, v in self.store.iterate(_REPLAY) if int.from_bytes(v, "big") < oldest]
        with self.store.atomic_batch() as batch:
            for key in old:
                batch.delete(key)
        return len(old)
