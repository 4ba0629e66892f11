"""Nonces of the signed fetches this node has served, kept in the node-local LevelDB.

A fetch is refused when its timestamp is outside the genesis freshness window, so a nonce only
has to be remembered while its fetch could still pass that check: until ``timestamp + window``.
Each nonce is stored twice in one atomic write: under ``n || requester || nonce`` (the lookup)
and under ``N || expiry || requester || nonce`` (expiry big-endian, so the oldest come first
and pruning reads only what it deletes). Kept on disk, a replay stays refused after a restart;
kept by expiry, the set never has to be cleared whole to stay bounded.
"""

from __future__ import annotations

from ledger.kv import KeyValueStore

NONCE_PREFIX = b"n"
EXPIRY_PREFIX = b"N"
_EXPIRY_BYTES = 8
#: How many expired nonces one call removes at most, so a fetch never waits on a long prune.
_PRUNE_BATCH = 512


class FetchNonces:
    """Replay protection for fetches: :meth:`use` refuses a nonce seen before."""

    def __init__(self, store: KeyValueStore, window_ms: int) -> None:
        self._store = store
        self._window_ms = window_ms

    def _expiry(self, timestamp_ms: int) -> bytes:
        return (max(timestamp_ms, 0) + self._window_ms).to_bytes(_EXPIRY_BYTES, "big")

    def seen(self, requester: bytes, nonce: bytes) -> bool:
        return self._store.get(NONCE_PREFIX + requester + nonce) is not None

    def use(self, requester: bytes, nonce: bytes, timestamp_ms: int, now_ms: int) -> bool:
        """Record the nonce of a fetch stamped ``timestamp_ms``; False (and nothing written) if
        it was recorded before. Expired nonces are pruned on the way."""
        self.prune(now_ms)
        key = NONCE_PREFIX + requester + nonce
        if self._store.get(key) is not None:
            return False
        stamp = self._expiry(timestamp_ms)
        # Not synced: after a power cut the last few nonces may be forgotten, which a replay
        # inside the same few milliseconds could use; a synced write per fetch costs more.
        self._store.write({key: stamp, EXPIRY_PREFIX + stamp + requester + nonce: b""}, sync=False)
        return True

    def forget(self, requester: bytes, nonce: bytes, timestamp_ms: int) -> None:
        """Drop a nonce recorded by :meth:`use` for a fetch stamped ``timestamp_ms``."""
        stamp = self._expiry(timestamp_ms)
        key = NONCE_PREFIX + requester + nonce
        self._store.write({key: None, EXPIRY_PREFIX + stamp + requester + nonce: None}, sync=False)

    def prune(self, now_ms: int) -> int:
        """Forget up to a batch of nonces whose fetches can no longer be fresh; returns how many."""
        stop = EXPIRY_PREFIX + max(now_ms, 0).to_bytes(_EXPIRY_BYTES, "big")
        ops: dict[bytes, bytes | None] = {}
        for index_key, _ in self._store.iterate(EXPIRY_PREFIX, stop=stop):
            ops[index_key] = None
            ops[NONCE_PREFIX + index_key[len(EXPIRY_PREFIX) + _EXPIRY_BYTES :]] = None
            if len(ops) >= 2 * _PRUNE_BATCH:
                break
        if ops:
            self._store.write(ops, sync=False)
        return len(ops) // 2
