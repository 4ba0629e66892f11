"""The key-value interface the ledger is written against, and its in-memory backend.

A store maps byte keys to byte values, iterates keys in byte order under a prefix (optionally
between a start and a stop key), and applies a group of puts and deletes atomically with
:meth:`KeyValueStore.write` or the :meth:`KeyValueStore.atomic_batch` context manager. The LevelDB
backend lives in :mod:`ledger.leveldb`; both pass the shared suite in ``tests/ledger/test_kv.py``.
"""

from __future__ import annotations

import bisect
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ledger.errors import StoreError

#: ``None`` as a value inside a batch means "delete this key".
Operations = Mapping[bytes, bytes | None]


class Batch:
    """Puts and deletes collected for one atomic write; later operations on a key win."""

    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops: dict[bytes, bytes | None] = {}

    def put(self, key: bytes, value: bytes) -> None:
        self.ops[bytes(key)] = bytes(value)

    def delete(self, key: bytes) -> None:
        self.ops[bytes(key)] = None


class KeyValueStore(ABC):
    """Ordered byte-key store with atomic batches."""

    @abstractmethod
    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or ``None``."""

    @abstractmethod
    def write(self, ops: Operations, *, sync: bool = True) -> None:
        """Apply every put (bytes value) and delete (``None``) in ``ops`` atomically.

        With ``sync`` the call returns only once the write is durable.
        """

    @abstractmethod
    def iterate(
        self,
        prefix: bytes = b"",
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
        scan: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(key, value)`` for keys starting with ``prefix`` in byte order.

        ``start`` (inclusive) and ``stop`` (exclusive) are full keys that narrow the range further.
        ``scan`` marks a one-pass read of a large range (verification): the backend may leave
        what it reads out of its cache, which is faster and keeps the cache for point reads.
        """

    def keys(self, prefix: bytes = b"", *, scan: bool = False) -> Iterator[bytes]:
        """Keys starting with ``prefix`` in byte order (backends may skip reading values);
        ``scan`` as for :meth:`iterate`."""
        for key, _ in self.iterate(prefix, scan=scan):
            yield key

    @abstractmethod
    def close(self) -> None:
        """Release the store; any later call raises :class:`StoreError`."""

    @abstractmethod
    def snapshot(self) -> KeyValueStore:
        """A read-only view of the store as it is now, unchanged by later writes.

        Reads of the view may run in another thread while this store is written. Writing to
        the view raises :class:`StoreError`; close it when done.
        """

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        self.write({key: value}, sync=sync)

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        self.write({key: None}, sync=sync)

    @contextmanager
    def atomic_batch(self, *, sync: bool = True) -> Iterator[Batch]:
        """Collect operations and apply them in one write when the block exits without error."""
        batch = Batch()
        yield batch
        self.write(batch.ops, sync=sync)


def prefix_upper_bound(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (``None``: no bound)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


class MemoryStore(KeyValueStore):
    """A store kept in a dict plus a sorted key list; for tests and tools, not durable."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] | None = {}
        self._keys: list[bytes] = []

    def _live(self) -> dict[bytes, bytes]:
        if self._data is None:
            raise StoreError("store is closed")
        return self._data

    def snapshot(self) -> KeyValueStore:
        view = _MemorySnapshot()
        view._data = dict(self._live())
        view._keys = list(self._keys)
        return view

    def get(self, key: bytes) -> bytes | None:
        return self._live().get(bytes(key))

    def write(self, ops: Operations, *, sync: bool = True) -> None:
        data = self._live()
        for key, value in ops.items():
            if value is None:
                if data.pop(key, None) is not None:
                    del self._keys[bisect.bisect_left(self._keys, key)]
            else:
                if key not in data:
                    bisect.insort(self._keys, key)
                data[key] = bytes(value)

    def iterate(
        self,
        prefix: bytes = b"",
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
        scan: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        data = self._live()
        low = prefix if start is None or start < prefix else start
        high = prefix_upper_bound(prefix)
        if stop is not None and (high is None or stop < high):
            high = stop
        lo_i = bisect.bisect_left(self._keys, low)
        hi_i = len(self._keys) if high is None else bisect.bisect_left(self._keys, high)
        # Snapshot the slice so that writes during iteration cannot confuse it (LevelDB
        # iterators see a snapshot as well).
        keys = self._keys[lo_i:hi_i]
        if reverse:
            keys.reverse()
        for key in keys:
            yield key, data[key]

    def close(self) -> None:
        self._data = None
        self._keys = []


class _MemorySnapshot(MemoryStore):
    """A frozen copy of a :class:`MemoryStore` (see :meth:`KeyValueStore.snapshot`)."""

    def write(self, ops: Operations, *, sync: bool = True) -> None:
        raise StoreError("a snapshot is read-only")
