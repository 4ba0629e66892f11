"""Node-local state kept beside the ledger, in its own LevelDB (``data/node``).

None of this is consensus state, so it lives outside the ledger's database and key schema:

* the consensus :class:`~consensus.safety.SafetyState` (round watermark and lock), synced on save;
* the index of consensus item ids already committed (consensus names items by its own ids,
  the ledger by transaction ids), with the height it has been brought up to;
* storage fragments received before their record was committed (checked fragments go to
  the ledger's node-local fragment store).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from consensus.safety import SafetyState
from ledger.kv import KeyValueStore
from ledger.leveldb import LevelDBStore

_SAFETY = b"s"
_ITEM = b"i"
_INDEXED_HEIGHT = b"h"
_PENDING = b"p"

#: Fragments of not-yet-committed records a node keeps at most (oldest are not evicted: new
#: ones are refused, so a flood cannot push out fragments already accepted).
MAX_PENDING_FRAGMENTS = 1024


class PendingAreaFull(Exception):
    """The bounded area for fragments of uncommitted records has no room left."""


class LocalStore:
    """Typed access to the node-local database."""

    def __init__(self, store: KeyValueStore) -> None:
        self._store = store
        self._pending_count = sum(1 for _ in store.iterate(_PENDING))

    @classmethod
    def open(cls, path: Path) -> LocalStore:
        """Open (creating) the LevelDB at ``path``; raises ``ledger.errors.StoreError``."""
        return cls(LevelDBStore(path))

    def close(self) -> None:
        self._store.close()

    # -- consensus safety ---------------------------------------------------------------------

    def save_safety(self, state: SafetyState) -> None:
        self._store.write({_SAFETY: state.to_bytes()}, sync=True)

    def load_safety(self) -> SafetyState | None:
        raw = self._store.get(_SAFETY)
        return None if raw is None else SafetyState.from_bytes(raw)

    # -- committed consensus items ------------------------------------------------------------

    def mark_committed(self, height: int, item_ids: Iterable[bytes]) -> None:
        ops: dict[bytes, bytes | None] = {_ITEM + i: b"" for i in item_ids}
        ops[_INDEXED_HEIGHT] = height.to_bytes(8, "big")
        self._store.write(ops, sync=False)

    def is_committed(self, item_id: bytes) -> bool:
        return self._store.get(_ITEM + item_id) is not None

    def indexed_height(self) -> int:
        raw = self._store.get(_INDEXED_HEIGHT)
        return 0 if raw is None else int.from_bytes(raw, "big")

    # -- fragments ----------------------------------------------------------------------------

    def drop_pending(self, record_id: bytes) -> None:
        if self._store.get(_PENDING + record_id) is not None:
            self._store.write({_PENDING + record_id: None}, sync=True)
            self._pending_count -= 1

    def pending_fragment(self, record_id: bytes) -> bytes | None:
        return self._store.get(_PENDING + record_id)

    def save_pending(self, record_id: bytes, fragment: bytes) -> None:
        """Keep a fragment whose record is not committed yet; raises :class:`PendingAreaFull`."""
        fresh = self._store.get(_PENDING + record_id) is None
        if fresh and self._pending_count >= MAX_PENDING_FRAGMENTS:
            raise PendingAreaFull(f"{MAX_PENDING_FRAGMENTS} fragments already wait for records")
        self._store.write({_PENDING + record_id: fragment}, sync=True)
        if fresh:
            self._pending_count += 1
