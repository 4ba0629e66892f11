"""Fragments handed over by peers for records this node has not committed yet.

A node that lags behind the chain can be handed its fragment of a record before it has committed
the PutRecord, so it cannot check that fragment yet. Such fragments wait here, in the node-local
database (``data/node``), until the record commits or a fetch needs them; the keeper
(:mod:`node.storage`) then keeps the candidate that matches the on-chain commitment and drops the
others.

Only authenticated genesis peers park fragments here (the HTTP upload is accepted only for a
record already committed on the node that takes it), and what they park is bounded:

* candidates are kept by digest, several per record, so a bad peer's fragment waits beside a good
  one instead of replacing it; one peer holds at most one candidate per record;
* one peer may hold at most ``1/uploader_share`` of the area (count and bytes), so a single bad
  peer cannot fill it alone;
* the area holds at most ``max_fragments`` fragments and ``max_bytes`` bytes of fragment data.
  When full it refuses new fragments (the keeper answers 429) rather than evicting entries that
  are still in time: evicting would let a flood push out the real fragments of a lagging node;
* entries older than ``ttl_ms`` are dropped, oldest first (the keeper promotes those whose record
  has committed meanwhile instead).

Keys: ``c`` + record id + digest holds a candidate's bookkeeping (arrival time, size, uploaders)
and ``d`` + record id + digest its bytes, written in one atomic batch. The accounting is rebuilt
from the ``c`` keys when the store is opened, so it always describes what is on disk.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections import Counter
from dataclasses import dataclass, replace

from ledger.kv import KeyValueStore

logger = logging.getLogger("iomtshare.node.pending_fragments")

CANDIDATE_PREFIX = b"c"
DATA_PREFIX = b"d"
_ID_SIZE = 32
_DIGEST_SIZE = 32
_META = struct.Struct(">QIH")
_UPLOADER = struct.Struct(">H")

#: Fragments the pending area holds at most.
MAX_PENDING_FRAGMENTS = 1024
#: Bytes of fragment data the pending area holds at most (its disk bound, keys aside).
MAX_PENDING_BYTES = 512 * 1024 * 1024
#: A parked fragment older than this is dropped (or promoted, if its record has committed).
PENDING_TTL_MS = 60 * 60 * 1000
#: One uploader holds at most this fraction (1/n) of the area.
UPLOADER_SHARE = 4


@dataclass(frozen=True, slots=True)
class PendingLimits:
    """Bounds of the pending area; ``ValueError`` unless every bound is positive."""

    max_fragments: int = MAX_PENDING_FRAGMENTS
    max_bytes: int = MAX_PENDING_BYTES
    ttl_ms: int = PENDING_TTL_MS
    uploader_share: int = UPLOADER_SHARE

    def __post_init__(self) -> None:
        if min(self.max_fragments, self.max_bytes, self.ttl_ms, self.uploader_share) < 1:
            raise ValueError("pending area bounds must be positive")

    @property
    def uploader_fragments(self) -> int:
        return max(1, self.max_fragments // self.uploader_share)

    @property
    def uploader_bytes(self) -> int:
        return max(1, self.max_bytes // self.uploader_share)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One parked fragment: its record, digest, arrival time, size and who handed it over."""

    record_id: bytes
    digest: bytes
    received_ms: int
    size: int
    uploaders: tuple[int, ...]

    @property
    def key(self) -> bytes:
        return self.record_id + self.digest

    def meta(self) -> bytes:
        head = _META.pack(self.received_ms, self.size, len(self.uploaders))
        return head + b"".join(_UPLOADER.pack(u) for u in self.uploaders)

    @classmethod
    def from_meta(cls, key: bytes, raw: bytes) -> Candidate:
        """Parse a ``c`` entry (``key`` without its prefix); ``ValueError`` if malformed."""
        if len(key) != _ID_SIZE + _DIGEST_SIZE or len(raw) < _META.size:
            raise ValueError("malformed pending fragment entry")
        received_ms, size, count = _META.unpack_from(raw)
        if len(raw) != _META.size + count * _UPLOADER.size:
            raise ValueError("malformed pending fragment entry")
        uploaders = tuple(u for (u,) in _UPLOADER.iter_unpack(raw[_META.size :]))
        return cls(key[:_ID_SIZE], key[_ID_SIZE:], received_ms, size, uploaders)


class PendingFull(Exception):
    """The uploader's share or the whole pending area has no room; nothing was stored."""


class CandidateConflict(Exception):
    """The uploader already parked a different fragment for this record."""


class PendingFragments:
    """The bounded pending area over the node-local store."""

    def __init__(self, store: KeyValueStore, limits: PendingLimits | None = None) -> None:
        self._store = store
        self.limits = limits or PendingLimits()
        self._candidates: dict[bytes, Candidate] = {}
        self._by_record: dict[bytes, set[bytes]] = {}
        self._uploader_count: Counter[int] = Counter()
        self._uploader_bytes: Counter[int] = Counter()
        self.stored_bytes = 0
        self._load()

    def _load(self) -> None:
        broken: list[bytes] = []
        for key, raw in self._store.iterate(CANDIDATE_PREFIX):
            try:
                self._index(Candidate.from_meta(key[len(CANDIDATE_PREFIX) :], raw))
            except ValueError:
                broken.append(key[len(CANDIDATE_PREFIX) :])
        # Bytes without bookkeeping would escape the bound: drop them with the broken entries.
        strays = [
            key[len(DATA_PREFIX) :]
            for key in self._store.keys(DATA_PREFIX)
            if key[len(DATA_PREFIX) :] not in self._candidates
        ]
        if broken or strays:
            logger.warning("dropping %d unreadable pending fragments", len(set(broken + strays)))
            ops: dict[bytes, bytes | None] = {}
            for key in broken + strays:
                ops[CANDIDATE_PREFIX + key] = None
                ops[DATA_PREFIX + key] = None
            self._store.write(ops, sync=True)

    def _index(self, candidate: Candidate) -> None:
        self._candidates[candidate.key] = candidate
        self._by_record.setdefault(candidate.record_id, set()).add(candidate.digest)
        self.stored_bytes += candidate.size
        self._charge(candidate.uploaders, candidate.size, 1)

    def _unindex(self, candidate: Candidate) -> None:
        del self._candidates[candidate.key]
        digests = self._by_record[candidate.record_id]
        digests.discard(candidate.digest)
        if not digests:
            del self._by_record[candidate.record_id]
        self.stored_bytes -= candidate.size
        self._charge(candidate.uploaders, -candidate.size, -1)

    def _charge(self, uploaders: tuple[int, ...], size: int, count: int) -> None:
        for uploader in uploaders:
            self._uploader_count[uploader] += count
            self._uploader_bytes[uploader] += size

    # -- reading ------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self._candidates)

    def usage(self, uploader: int) -> tuple[int, int]:
        """(fragments, bytes) charged to ``uploader``."""
        return self._uploader_count[uploader], self._uploader_bytes[uploader]

    def records(self) -> list[bytes]:
        return list(self._by_record)

    def candidates(self, record_id: bytes) -> list[Candidate]:
        """The candidates of ``record_id``, oldest first."""
        found = (self._candidates[record_id + d] for d in self._by_record.get(record_id, ()))
        return sorted(found, key=lambda c: c.received_ms)

    def read(self, candidate: Candidate) -> bytes | None:
        return self._store.get(DATA_PREFIX + candidate.key)

    def expired(self, now_ms: int) -> list[Candidate]:
        """Candidates older than the time-to-live, oldest first."""
        limit = now_ms - self.limits.ttl_ms
        old = [c for c in self._candidates.values() if c.received_ms < limit]
        return sorted(old, key=lambda c: c.received_ms)

    # -- writing ------------------------------------------------------------------------------

    def park(self, record_id: bytes, fragment: bytes, uploader: int, now_ms: int) -> Candidate:
        """Keep ``fragment`` of ``record_id`` from ``uploader`` (a genesis node index).

        Parking the same bytes again is a no-op. Raises :class:`CandidateConflict` when the
        uploader already parked different bytes for the record, :class:`PendingFull` when its
        share or the whole area has no room.
        """
        digest = hashlib.sha256(fragment).digest()
        for other in self.candidates(record_id):
            if uploader in other.uploaders:
                if other.digest == digest:
                    return other
                raise CandidateConflict(
                    f"node {uploader} already handed over a different fragment of this record"
                )
        existing = self._candidates.get(record_id + digest)
        size = len(fragment)
        count, used = self.usage(uploader)
        if count + 1 > self.limits.uploader_fragments or used + size > self.limits.uploader_bytes:
            raise PendingFull(
                f"node {uploader} already parks {count} fragments ({used} bytes) "
                f"for records not committed here"
            )
        if existing is not None:
            updated = replace(existing, uploaders=(*existing.uploaders, uploader))
            self._store.write({CANDIDATE_PREFIX + updated.key: updated.meta()}, sync=True)
            self._unindex(existing)
            self._index(updated)
            return updated
        if self.count + 1 > self.limits.max_fragments or (
            self.stored_bytes + size > self.limits.max_bytes
        ):
            raise PendingFull(
                f"the pending area is full ({self.count} fragments, {self.stored_bytes} bytes)"
            )
        candidate = Candidate(record_id, digest, now_ms, size, (uploader,))
        self._store.write(
            {
                CANDIDATE_PREFIX + candidate.key: candidate.meta(),
                DATA_PREFIX + candidate.key: fragment,
            },
            sync=True,
        )
        self._index(candidate)
        return candidate

    def drop(self, candidates: list[Candidate]) -> None:
        """Delete ``candidates`` in one write."""
        ops: dict[bytes, bytes | None] = {}
        for candidate in candidates:
            ops[CANDIDATE_PREFIX + candidate.key] = None
            ops[DATA_PREFIX + candidate.key] = None
        if ops:
            self._store.write(ops, sync=True)
        for candidate in candidates:
            if candidate.key in self._candidates:
                self._unindex(self._candidates[candidate.key])

    def drop_record(self, record_id: bytes) -> None:
        """Delete every candidate of ``record_id``."""
        self.drop(self.candidates(record_id))
