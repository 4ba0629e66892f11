"""The LevelDB backend of :class:`ledger.kv.KeyValueStore`, built on plyvel.

LevelDB write batches are atomic, and ``sync=True`` makes the write durable before it returns,
which is what the ledger relies on for crash safety. A database is locked by one process at a
time; opening a locked or corrupt database, or a write the disk refuses, raises
:class:`~ledger.errors.StoreError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plyvel

from ledger.errors import StoreError
from ledger.kv import KeyValueStore, Operations, prefix_upper_bound

#: Free bytes the filesystem must report before a store whose write failed is reopened: the
#: reopen writes the recovered memtable (up to LevelDB's 4 MiB write buffer) to a new table.
REOPEN_FREE_BYTES = 8 * 1024 * 1024


class LevelDBStore(KeyValueStore):
    """A plyvel database directory."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        try:
            # The bloom filter lets lookups of absent keys (new transaction ids, record ids,
            # nonces: checked for every transaction applied) skip reading table blocks.
            self._db: Any = plyvel.DB(
                str(path), create_if_missing=create, bloom_filter_bits=10
            )
        except (plyvel.Error, OSError) as exc:
            raise StoreError(f"cannot open LevelDB at {path}: {exc}") from exc
        self.path = Path(path)
        #: Set by a failed write (see :meth:`write`); cleared by a reopen.
        self._failed: str | None = None

    def _live(self) -> Any:
        if self._db is None and self._failed is not None:
            self._reopen()
        if self._db is None or self._db.closed:
            raise StoreError("store is closed")
        return self._db

    def _reopen(self) -> None:
        """Close and open the database again after a failed write, once there is room."""
        try:
            stats = os.statvfs(self.path)
            room = stats.f_bavail * stats.f_frsize
        except OSError:
            room = 0
        if self._db is not None and room < REOPEN_FREE_BYTES:
            # Still (nearly) full: keep serving reads from the open handle, refuse writes.
            raise StoreError(f"cannot write to LevelDB at {self.path} until it is reopened "
                             f"with room on its disk (a write failed: {self._failed})")
        if self._db is not None:
            self._db.close()
            self._db = None
        try:
            self._db = plyvel.DB(str(self.path), bloom_filter_bits=10)
        except (plyvel.Error, OSError) as exc:
            raise StoreError(f"cannot reopen LevelDB at {self.path}: {exc}") from exc
        self._failed = None

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._live().get(bytes(key))
        return value

    def write(self, ops: Operations, *, sync: bool = True) -> None:
        if self._failed is not None:
            self._reopen()
        db = self._live()
        try:
            with db.write_batch(transaction=True, sync=sync) as batch:
                for key, value in ops.items():
                    if value is None:
                        batch.delete(key)
                    else:
                        batch.put(key, value)
        except plyvel.Error as exc:
            # A full disk or an I/O fault: nothing of the batch is written (it is one atomic
            # LevelDB write), and callers get the store's own error to answer with. LevelDB's
            # log writer has dropped what it buffered but counts it as written, so every
            # later write would be acknowledged, served from memory and then lost when the
            # log is replayed at the next open: no write goes to this handle again.
            self._failed = str(exc)
            raise StoreError(f"cannot write to LevelDB at {self.path}: {exc}") from exc

    def iterate(
        self,
        prefix: bytes = b"",
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
        scan: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        db = self._live()
        low = prefix if start is None or start < prefix else start
        high = prefix_upper_bound(prefix)
        if stop is not None and (high is None or stop < high):
            high = stop
        # A scan skips LevelDB's block cache: inserting every block read into it cost more than
        # the read itself, and would evict what point reads keep there.
        fill_cache = not scan
        if not reverse:
            it = db.iterator(start=low, stop=high, fill_cache=fill_cache)
            try:
                yield from it
            finally:
                it.close()
            return
        # plyvel 1.5 returns nothing for a reverse scan whose start key is the database's first
        # key, so reverse scans are bounded above only and stop by hand at the lower bound.
        it = db.iterator(stop=high, reverse=True, fill_cache=fill_cache)
        try:
            for key, value in it:
                if key < low:
                    break
                yield key, value
        finally:
            it.close()

    def keys(self, prefix: bytes = b"", *, scan: bool = False) -> Iterator[bytes]:
        # Values are not read at all: a key scan of a large namespace stays cheap.
        db = self._live()
        if prefix:
            it = db.iterator(prefix=prefix, include_value=False, fill_cache=not scan)
        else:
            it = db.iterator(include_value=False, fill_cache=not scan)
        try:
            yield from it
        finally:
            it.close()

    def close(self) -> None:
        if self._db is not None and not self._db.closed:
            self._db.close()
        self._db = None
        self._failed = None

    def snapshot(self) -> KeyValueStore:
        return _LevelDBSnapshot(self)


class _LevelDBSnapshot(LevelDBStore):
    """A LevelDB snapshot read through the same code (see :meth:`KeyValueStore.snapshot`).

    plyvel's snapshot answers ``get`` and ``iterator`` like the database itself; the view
    refuses writes and becomes unusable once it or its database is closed.
    """

    def __init__(self, parent: LevelDBStore) -> None:
        self._parent = parent
        self._snapshot: Any = parent._live().snapshot()
        self.path = parent.path

    def _live(self) -> Any:
        if self._snapshot is None:
            raise StoreError("snapshot is closed")
        self._parent._live()  # raises once the database itself is closed
        return self._snapshot

    def write(self, ops: Operations, *, sync: bool = True) -> None:
        raise StoreError("a snapshot is read-only")

    def snapshot(self) -> KeyValueStore:
        return self._parent.snapshot()

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
        self._snapshot = None
