"""Node-local state kept beside the ledger, in its own LevelDB (``data/node``).

None of this is consensus state, so it lives outside the ledger's database and key schema:

* the consensus :class:`~consensus.safety.SafetyState` (round watermark and lock), synced on save;
* the pending area (:mod:`node.pending_fragments`, keys ``c`` and ``d``): fragments peers handed
  over before this node committed their record (checked fragments go to the ledger's node-local
  fragment store);
* the accepted submissions (:mod:`node.pending_pool`, keys ``a`` and ``f``): client
  transactions this node acknowledged and has not seen committed yet, and why those it dropped
  were dropped;
* the nonces of the fetches it served (:mod:`node.fetch_nonces`, keys ``n`` and ``N``), until
  their fetches could no longer be fresh.

Consensus names items by their ledger transaction ids, so whether an item is committed is the
ledger's transaction index to say; nothing here repeats it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from consensus.safety import SafetyState
from ledger.kv import KeyValueStore
from ledger.leveldb import LevelDBStore
from node.fetch_nonces import EXPIRY_PREFIX, NONCE_PREFIX, FetchNonces
from node.pending_fragments import (
    CANDIDATE_PREFIX,
    DATA_PREFIX,
    PendingFragments,
    PendingLimits,
)
from node.pending_pool import (
    FATE_PREFIX,
    SUBMISSION_PREFIX,
    AcceptedSubmissions,
    SubmissionLimits,
)

_SAFETY = b"s"
# Unattributed, unbounded pending fragments of earlier versions: dropped on open.
_LEGACY_PENDING = b"p"

#: Every key prefix of the node-local database (one byte each, none a prefix of another).
PREFIXES = (
    _SAFETY,
    _LEGACY_PENDING,
    CANDIDATE_PREFIX,
    DATA_PREFIX,
    SUBMISSION_PREFIX,
    FATE_PREFIX,
    NONCE_PREFIX,
    EXPIRY_PREFIX,
)

logger = logging.getLogger("iomtshare.node.localstore")


class LocalStore:
    """Typed access to the node-local database; ``pending`` is its pending fragment area,
    ``submissions`` its accepted client submissions; :meth:`fetch_nonces` its served fetches."""

    def __init__(
        self,
        store: KeyValueStore,
        pending_limits: PendingLimits | None = None,
        submission_limits: SubmissionLimits | None = None,
    ) -> None:
        self._store = store
        self._drop_legacy_pending()
        self.pending = PendingFragments(store, pending_limits)
        self.submissions = AcceptedSubmissions(store, submission_limits)

    @classmethod
    def open(
        cls,
        path: Path,
        pending_limits: PendingLimits | None = None,
        submission_limits: SubmissionLimits | None = None,
    ) -> LocalStore:
        """Open (creating) the LevelDB at ``path``; raises ``ledger.errors.StoreError``."""
        return cls(LevelDBStore(path), pending_limits, submission_limits)

    def _drop_legacy_pending(self) -> None:
        keys = list(self._store.keys(_LEGACY_PENDING))
        if keys:
            self._store.write(dict.fromkeys(keys), sync=True)
            logger.warning("dropped %d unchecked fragments of an earlier version", len(keys))

    def close(self) -> None:
        self._store.close()

    def fetch_nonces(self, window_ms: int) -> FetchNonces:
        """The served-fetch nonces, remembered for ``window_ms`` past each fetch's timestamp."""
        return FetchNonces(self._store, window_ms)

    # -- consensus safety ---------------------------------------------------------------------

    def save_safety(self, state: SafetyState) -> None:
        self._store.write({_SAFETY: state.to_bytes()}, sync=True)

    def load_safety(self) -> SafetyState | None:
        raw = self._store.get(_SAFETY)
        return None if raw is None else SafetyState.from_bytes(raw)
