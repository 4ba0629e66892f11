"""Node-local state kept beside the ledger, in its own LevelDB (``data/node``).

None of this is consensus state, so it lives outside the ledger's database and key schema:

* the consensus :class:`~consensus.safety.SafetyState` (round watermark and lock), synced on save;
* the index of consensus item ids already committed (consensus names items by its own ids,
  the ledger by transaction ids), with the height it has been brought up to;
* the pending area (:mod:`node.pending_fragments`, keys ``c`` and ``d``): fragments peers handed
  over before this node committed their record (checked fragments go to the ledger's node-local
  fragment store).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from consensus.safety import SafetyState
from ledger.kv import KeyValueStore
from ledger.leveldb import LevelDBStore
from node.pending_fragments import (
    CANDIDATE_PREFIX,
    DATA_PREFIX,
    PendingFragments,
    PendingLimits,
)

_SAFETY = b"s"
_ITEM = b"i"
_INDEXED_HEIGHT = b"h"
# Unattributed, unbounded pending fragments of earlier versions: dropped on open.
_LEGACY_PENDING = b"p"

#: Every key prefix of the node-local database (one byte each, none a prefix of another).
PREFIXES = (_SAFETY, _ITEM, _INDEXED_HEIGHT, _LEGACY_PENDING, CANDIDATE_PREFIX, DATA_PREFIX)

logger = logging.getLogger("iomtshare.node.localstore")


class LocalStore:
    """Typed access to the node-local database; ``pending`` is its pending fragment area."""

    def __init__(self, store: KeyValueStore, pending_limits: PendingLimits | None = None) -> None:
        self._store = store
        self._drop_legacy_pending()
        self.pending = PendingFragments(store, pending_limits)

    @classmethod
    def open(cls, path: Path, pending_limits: PendingLimits | None = None) -> LocalStore:
        """Open (creating) the LevelDB at ``path``; raises ``ledger.errors.StoreError``."""
        return cls(LevelDBStore(path), pending_limits)

    def _drop_legacy_pending(self) -> None:
        keys = list(self._store.keys(_LEGACY_PENDING))
        if keys:
            self._store.write(dict.fromkeys(keys), sync=True)
            logger.warning("dropped %d unchecked fragments of an earlier version", len(keys))

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
