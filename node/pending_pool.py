"""Client submissions this node accepted, kept on disk until they are decided.

``POST /tx`` answers 202 only after the submission is written, synced, to the node-local
database (``data/node``), so an acknowledged submission survives a crash of this node and any
stretch without quorum: consensus keeps pending items across rounds in memory, and this area
is what brings them back after a restart.

* :class:`AcceptedSubmissions` is the bounded area on disk: ``a`` + transaction id holds an
  arrival number and the transaction's bytes; ``f`` + transaction id holds why a submission
  was dropped (its fate), so a client can still ask about it later. The accounting is rebuilt
  from the keys when the store opens, so the bounds hold across restarts.
* :class:`PendingPool` keeps the area in step with consensus: a submission leaves it when its
  transaction is in the ledger, or, with the reason written down, when consensus let go of it
  without committing it (committed state now refuses it, or its leader left it out of a
  block). On start every stored submission that is neither committed nor refused goes back to
  consensus, which relays it to the peers again.
"""

from __future__ import annotations

import logging
import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from consensus.item import Item
from crypto.errors import DecodeError
from ledger.errors import StoreError
from ledger.kv import KeyValueStore
from node.admission import Problem

logger = logging.getLogger("iomtshare.node.pending_pool")

SUBMISSION_PREFIX = b"a"
FATE_PREFIX = b"f"
_ID_SIZE = 32
_SEQ = struct.Struct(">Q")

#: Accepted submissions the area holds at most (the size of the consensus inbox).
MAX_SUBMISSIONS = 4096
#: Bytes of transactions the area holds at most (its disk bound, keys aside).
MAX_SUBMISSION_BYTES = 64 * 1024 * 1024
#: Reasons of dropped submissions remembered; the oldest are forgotten first.
MAX_FATES = 16_384
#: Longest reason kept, in characters.
MAX_REASON = 300


@dataclass(frozen=True, slots=True)
class SubmissionLimits:
    """Bounds of the area; ``ValueError`` unless every bound is positive."""

    max_count: int = MAX_SUBMISSIONS
    max_bytes: int = MAX_SUBMISSION_BYTES
    max_fates: int = MAX_FATES

    def __post_init__(self) -> None:
        if min(self.max_count, self.max_bytes, self.max_fates) < 1:
            raise ValueError("submission area bounds must be positive")


class CannotAccept(Exception):
    """The node cannot keep another submission now (the area is full, or the disk refused
    the write); nothing was stored, so the submission is not acknowledged."""


class AcceptedSubmissions:
    """The bounded area of accepted submissions over the node-local store."""

    def __init__(self, store: KeyValueStore, limits: SubmissionLimits | None = None) -> None:
        self._store = store
        self.limits = limits or SubmissionLimits()
        #: id -> (arrival number, size in bytes), in arrival order once loaded.
        self._sizes: dict[bytes, tuple[int, int]] = {}
        self.stored_bytes = 0
        #: id -> (drop number, reason), oldest first.
        self._fates: OrderedDict[bytes, tuple[int, str]] = OrderedDict()
        self._seq = 0
        self._load()

    def _load(self) -> None:
        broken: list[bytes] = []
        for key, raw in self._store.iterate(SUBMISSION_PREFIX):
            ident = key[len(SUBMISSION_PREFIX) :]
            if len(ident) != _ID_SIZE or len(raw) <= _SEQ.size:
                broken.append(key)
                continue
            (seq,) = _SEQ.unpack_from(raw)
            self._sizes[ident] = (seq, len(raw) - _SEQ.size)
            self.stored_bytes += len(raw) - _SEQ.size
            self._seq = max(self._seq, seq)
        fates: list[tuple[int, bytes, str]] = []
        for key, raw in self._store.iterate(FATE_PREFIX):
            ident = key[len(FATE_PREFIX) :]
            try:
                if len(ident) != _ID_SIZE or len(raw) < _SEQ.size:
                    raise ValueError("short fate entry")
                (seq,) = _SEQ.unpack_from(raw)
                fates.append((seq, ident, raw[_SEQ.size :].decode()))
            except ValueError:
                broken.append(key)
        for seq, ident, reason in sorted(fates):
            self._fates[ident] = (seq, reason)
            self._seq = max(self._seq, seq)
        if broken:
            logger.warning("dropping %d unreadable accepted submissions", len(broken))
            self._store.write(dict.fromkeys(broken), sync=True)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def __len__(self) -> int:
        return len(self._sizes)

    def __contains__(self, ident: object) -> bool:
        return ident in self._sizes

    def ids(self) -> list[bytes]:
        """The stored submissions' ids, in arrival order."""
        return sorted(self._sizes, key=lambda i: self._sizes[i][0])

    def read(self, ident: bytes) -> bytes | None:
        """The stored transaction bytes of ``ident``."""
        raw = self._store.get(SUBMISSION_PREFIX + ident)
        return None if raw is None else raw[_SEQ.size :]

    def dropped_reason(self, ident: bytes) -> str | None:
        fate = self._fates.get(ident)
        return None if fate is None else fate[1]

    def add(self, ident: bytes, raw: bytes) -> None:
        """Store the accepted transaction ``raw`` (id ``ident``), synced before this returns.

        Storing it again is a no-op. Raises :class:`CannotAccept` when the area is full or the
        write fails (nothing stored then).
        """
        if ident in self._sizes:
            return
        count, size = len(self._sizes), len(raw)
        if count + 1 > self.limits.max_count or self.stored_bytes + size > self.limits.max_bytes:
            raise CannotAccept(
                f"the node holds {count} undecided submissions ({self.stored_bytes} bytes), "
                "its limit; retry later"
            )
        seq = self._next()
        ops: dict[bytes, bytes | None] = {SUBMISSION_PREFIX + ident: _SEQ.pack(seq) + raw}
        if ident in self._fates:  # dropped before, submitted again: pending once more
            ops[FATE_PREFIX + ident] = None
        try:
            self._store.write(ops, sync=True)
        except StoreError as exc:
            raise CannotAccept(f"cannot store the submission: {exc}") from exc
        self._fates.pop(ident, None)
        self._sizes[ident] = (seq, size)
        self.stored_bytes += size

    def remove(self, ident: bytes, reason: str | None = None) -> None:
        """Forget ``ident``; with a ``reason``, remember why it was dropped.

        Not synced: a removal lost in a crash only brings the submission back at the next
        start, where it is found committed or refused again.
        """
        ops: dict[bytes, bytes | None] = {SUBMISSION_PREFIX + ident: None}
        if reason is not None:
            reason = reason[:MAX_REASON]
            seq = self._next()
            ops[FATE_PREFIX + ident] = _SEQ.pack(seq) + reason.encode()
            self._fates.pop(ident, None)
            self._fates[ident] = (seq, reason)
            while len(self._fates) > self.limits.max_fates:
                oldest, _ = self._fates.popitem(last=False)
                ops[FATE_PREFIX + oldest] = None
        self._store.write(ops, sync=False)
        entry = self._sizes.pop(ident, None)
        if entry is not None:
            self.stored_bytes -= entry[1]


class ItemRules(Protocol):
    """What the pool asks of the application (:class:`node.application.NodeApplication`)."""

    def client_item(self, raw: bytes) -> Item:
        """The item of a client's transaction; raises :class:`DecodeError`."""
        ...

    def is_committed(self, item_id: bytes) -> bool: ...

    def item_problem(self, item: Item) -> Problem | None:
        """Why ``item`` cannot enter a block now, or None."""
        ...

    def hold_nonce(self, item: Item) -> None: ...


class PendingPool:
    """The submissions this node acknowledged (``area``) as consensus items of ``app``."""

    def __init__(self, area: AcceptedSubmissions, app: ItemRules) -> None:
        self._area = area
        self._app = app

    def __contains__(self, ident: object) -> bool:
        return ident in self._area

    def __len__(self) -> int:
        return len(self._area)

    def dropped_reason(self, ident: bytes) -> str | None:
        """Why this node dropped submission ``ident`` without committing it, if it did."""
        return self._area.dropped_reason(ident)

    def accept(self, item: Item) -> None:
        """Keep a client's item durably; raises :class:`CannotAccept`."""
        self._area.add(item.item_id, item.body)

    def forget(self, ident: bytes) -> None:
        """The item could not be handed to consensus after all: it was never acknowledged."""
        self._area.remove(ident)

    def reload(self) -> list[Item]:
        """The stored submissions to hand to consensus again (on start), in arrival order.

        Those already committed are forgotten, and those that cannot enter a block any more
        (or cannot be read) are dropped with their reason.
        """
        items: list[Item] = []
        committed = 0
        for ident in self._area.ids():
            raw = self._area.read(ident)
            try:
                item = self._app.client_item(raw if raw is not None else b"")
            except DecodeError as exc:
                self._drop(ident, f"unreadable after a restart: {exc}")
                continue
            if item.item_id != ident:
                self._drop(ident, "stored bytes do not match the transaction id")
            elif self._app.is_committed(ident):
                self._area.remove(ident)
                committed += 1
            elif self._settle_refused(item):
                continue
            else:
                self._app.hold_nonce(item)
                items.append(item)
        if items or committed:
            logger.info(
                "accepted submissions reloaded pending=%d committed=%d", len(items), committed
            )
        return items

    def settle(self, ident: bytes) -> None:
        """Consensus no longer holds ``ident``: forget it if committed, else drop it with the
        reason committed state gives (or that consensus left it out)."""
        if ident not in self._area:
            return
        if self._app.is_committed(ident):
            self._area.remove(ident)
            return
        raw = self._area.read(ident)
        try:
            item = self._app.client_item(raw if raw is not None else b"")
        except DecodeError as exc:
            self._drop(ident, f"unreadable: {exc}")
            return
        if not self._settle_refused(item):
            self._drop(ident, "left out of a block by consensus; submit it again")

    def settle_all(self, held: Callable[[bytes], bool]) -> None:
        """:meth:`settle` every stored submission that consensus no longer ``held``."""
        for ident in self._area.ids():
            if not held(ident):
                self.settle(ident)

    def _settle_refused(self, item: Item) -> bool:
        problem = self._app.item_problem(item)
        if problem is None:
            return False
        self._drop(item.item_id, f"{problem.code}: {problem.message}")
        return True

    def _drop(self, ident: bytes, reason: str) -> None:
        logger.info("accepted submission dropped tx=%s reason=%s", ident.hex()[:16], reason)
        self._area.remove(ident, reason)
