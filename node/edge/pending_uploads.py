"""The edge's uploads on disk, from before their record is submitted until its fragments are
handed over.

An edge answers a device's upload once a consensus node took the record, then waits for the
commit and hands the fragments over (:mod:`node.edge.upload_finisher`). So that a kill anywhere
in between leaves nothing half done, :meth:`PendingUploads.save` writes the upload to the edge's
LevelDB (the header store under ``data/headers``) *before* the record is sent, and every move
of its state is written again. The keys::

    u || record_id                      ->  PendingUpload (canonical, tag 0x92, version 2)
    U || record_id || "t"               ->  the signed PutRecord (its own canonical encoding)
    U || record_id || "f" || j (u32 BE) ->  fragment j (its own canonical encoding)

The transaction and fragments (megabytes) are written once, in the same batch as the upload's
first state, and deleted in the batch that makes it ``stored`` or ``failed``; a move of the
state rewrites only the small state record. Version 1 (until this layout) kept them inside the
state record; such entries are rewritten in this layout when the store is opened. (The store's
other keys are ``h``/``tip`` of the header chain, ``n``/``N`` of the fetch nonces and the
sensor path's ``p``/``r``.) Every write is one synced batch run in a worker thread, one at a
time in call order, so the trio loop never waits on an fsync. The last :data:`KEPT_DONE`
finished uploads are kept for ``GET /devices/{id}/uploads/{record}``.
"""

from __future__ import annotations

import logging
import struct
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any

import trio

from crypto import tags
from crypto.errors import DecodeError
from ledger.encoding import BLOB, HASH, TEXT, U8, U32, U64, Encoded, Kind, optional, sequence
from ledger.kv import KeyValueStore

logger = logging.getLogger("iomtshare.node.edge.uploads")

TAG_PENDING_UPLOAD = tags.EDGE_PENDING_UPLOAD
UPLOAD_PREFIX = b"u"
BODY_PREFIX = b"U"
#: Finished (stored or failed) uploads kept for the status route.
KEPT_DONE = 1024


class UploadStatus(IntEnum):
    """``SUBMITTED``: written, then sent (a node may or may not have it). ``UNCONFIRMED``: the
    edge answered 503 because no node confirmed it; only watched for a while. ``COMMITTED``: in
    a block, fragments not yet handed over. ``STORED``, ``FAILED``: done."""

    SUBMITTED = 1
    COMMITTED = 2
    STORED = 3
    FAILED = 4
    UNCONFIRMED = 5


#: The name the status route shows (``pending`` as before for a submitted upload).
STATUS_NAMES = {
    UploadStatus.SUBMITTED: "pending",
    UploadStatus.COMMITTED: "committed",
    UploadStatus.STORED: "stored",
    UploadStatus.FAILED: "failed",
    UploadStatus.UNCONFIRMED: "unconfirmed",
}
DONE = frozenset({UploadStatus.STORED, UploadStatus.FAILED})

_STATE_FIELDS: tuple[tuple[str, Kind[Any]], ...] = (
    ("device_id", HASH),
    ("record_id", HASH),
    ("tx_id", HASH),
    ("epoch", U32),
    ("state", U8),
    ("height", optional(U64)),
    ("fragments_stored", U32),
    ("reason", TEXT),
    ("submitted_at_ms", U64),
    ("updated_at_ms", U64),
)


class Changed(Exception):
    """The stored upload is no longer the one a compare-and-set write expected."""


@dataclass(frozen=True, slots=True)
class PendingUpload(Encoded):
    """One upload's state. Times are the edge's wall clock in ms. ``tx`` (the signed
    PutRecord) and ``fragments`` are set on an upload about to be saved for the first time;
    they are stored under their own keys (:meth:`PendingUploads.body`), not in this encoding,
    and a state read back has them empty."""

    device_id: bytes
    record_id: bytes
    tx_id: bytes
    epoch: int
    state: int
    height: int | None
    fragments_stored: int
    reason: str
    submitted_at_ms: int
    updated_at_ms: int
    tx: bytes = b""
    fragments: tuple[bytes, ...] = field(default=())

    TAG = TAG_PENDING_UPLOAD
    VERSION = 2
    FIELDS = _STATE_FIELDS

    def __post_init__(self) -> None:
        super(PendingUpload, self).__post_init__()
        if self.state not in UploadStatus.__members__.values():
            raise ValueError(f"PendingUpload.state {self.state} is not a known state")

    @classmethod
    def from_fields(cls, values: dict[str, Any]) -> PendingUpload:
        try:
            return cls(**values)
        except ValueError as exc:
            raise DecodeError(f"PendingUpload: {exc}") from exc

    @property
    def phase(self) -> UploadStatus:
        return UploadStatus(self.state)

    @property
    def status(self) -> str:
        """The name the status route shows."""
        return STATUS_NAMES[self.phase]

    @property
    def done(self) -> bool:
        return self.phase in DONE

    @property
    def version(self) -> tuple[int, int, int, bytes]:
        """What a compare-and-set write compares: state, times and tx id."""
        return (self.state, self.updated_at_ms, self.submitted_at_ms, self.tx_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id.hex(),
            "record_id": self.record_id.hex(),
            "tx_id": self.tx_id.hex(),
            "epoch": self.epoch,
            "status": self.status,
            "height": self.height,
            "fragments_stored": self.fragments_stored,
            "reason": self.reason or None,
        }


class PendingUploadV1(PendingUpload):
    """Version 1 of the state record (transaction and fragments inside); only read, to
    rewrite it in the current layout."""

    __slots__ = ()
    VERSION = 1
    FIELDS = (*_STATE_FIELDS, ("tx", BLOB), ("fragments", sequence(BLOB)))

    def upgraded(self) -> PendingUpload:
        """The same upload's state as version 2, without its transaction and fragments
        (raises ``DecodeError`` for an unknown state)."""
        values = {name: getattr(self, name) for name, _ in _STATE_FIELDS}
        return PendingUpload.from_fields(values)


def tx_key(record_id: bytes) -> bytes:
    return BODY_PREFIX + record_id + b"t"


def fragment_key(record_id: bytes, index: int) -> bytes:
    return BODY_PREFIX + record_id + b"f" + struct.pack(">I", index)


class PendingUploads:
    """The uploads of ``store`` (see the module docstring). Opening reads every state record
    once (an undecodable one is logged and left alone, a version 1 one rewritten)."""

    def __init__(self, store: KeyValueStore, *, kept_done: int = KEPT_DONE) -> None:
        self._store = store
        self._kept_done = kept_done
        self._writing = trio.Lock()
        open_: list[tuple[int, bytes]] = []
        done: list[tuple[int, bytes]] = []
        for key, value in list(store.iterate(UPLOAD_PREFIX)):
            try:
                upload = self._read(value)
            except DecodeError as exc:
                logger.warning("damaged upload state key=%s: %s", key.hex(), exc)
                continue
            (done if upload.done else open_).append((upload.updated_at_ms, upload.record_id))
        # Least recently written first, in both.
        self._open = OrderedDict((record_id, None) for _, record_id in sorted(open_))
        self._done = OrderedDict((record_id, None) for _, record_id in sorted(done))

    def _read(self, value: bytes) -> PendingUpload:
        if value[1:2] != b"\x01":
            return PendingUpload.from_bytes(value)
        old = PendingUploadV1.from_bytes(value)
        upload = old.upgraded()
        ops = {UPLOAD_PREFIX + upload.record_id: upload.to_bytes()}
        if not upload.done:
            ops.update(_body_ops(upload.record_id, old.tx, old.fragments))
        self._store.write(ops)
        logger.info("upload record=%s rewritten in version 2", upload.record_id.hex()[:16])
        return upload

    def get(self, record_id: bytes) -> PendingUpload | None:
        """The upload's state (without its transaction and fragments)."""
        raw = self._store.get(UPLOAD_PREFIX + record_id)
        if raw is None:
            return None
        try:
            return PendingUpload.from_bytes(raw)
        except DecodeError as exc:
            logger.warning("damaged upload state record=%s: %s", record_id.hex(), exc)
            return None

    async def body(self, record_id: bytes) -> tuple[bytes, tuple[bytes, ...]] | None:
        """An open upload's signed transaction and fragments (read in a worker thread);
        ``None`` if the store has none."""

        def read() -> tuple[bytes, tuple[bytes, ...]] | None:
            tx = self._store.get(tx_key(record_id))
            prefix = BODY_PREFIX + record_id + b"f"
            fragments = tuple(value for _, value in self._store.iterate(prefix))
            return None if tx is None else (tx, fragments)

        return await trio.to_thread.run_sync(read)

    def open_ids(self) -> list[bytes]:
        """Open uploads, least recently written first."""
        return list(self._open)

    def open_count(self) -> int:
        return len(self._open)

    async def save(self, upload: PendingUpload, *,
                   expect: PendingUpload | None = None) -> PendingUpload:
        """Write ``upload`` durably: with its transaction and fragments if it carries them, the
        state alone otherwise; a done one deletes them. Given ``expect``, only if the stored
        state is still ``expect`` (else :class:`Changed`). Returns it without transaction and
        fragments; raises ``ledger.errors.StoreError``."""
        record_id = upload.record_id
        state = replace(upload, tx=b"", fragments=())
        async with self._writing:
            self._expect(record_id, expect)

            def write() -> list[bytes]:
                ops: dict[bytes, bytes | None] = {UPLOAD_PREFIX + record_id: state.to_bytes()}
                if upload.done or upload.tx:
                    ops.update(self._body_deletes(record_id))
                if upload.tx and not upload.done:
                    ops.update(_body_ops(record_id, upload.tx, upload.fragments))
                evicted: list[bytes] = []
                if upload.done:
                    kept = [r for r in self._done if r != record_id]
                    evicted = kept[: max(0, len(kept) + 1 - self._kept_done)]
                    ops.update({UPLOAD_PREFIX + r: None for r in evicted})
                self._store.write(ops)
                return evicted

            evicted = await trio.to_thread.run_sync(write)
            self._open.pop(record_id, None)
            self._done.pop(record_id, None)
            for old in evicted:
                self._done.pop(old, None)
            (self._done if upload.done else self._open)[record_id] = None
        return state

    async def move(self, upload: PendingUpload, status: UploadStatus, now_ms: int, *,
                   compare: bool = False, **changes: Any) -> PendingUpload:
        """Save ``upload`` in ``status`` (with ``changes``) as of ``now_ms``; given
        ``compare``, only if the stored state is still ``upload`` (else :class:`Changed`)."""
        moved = replace(upload, state=int(status), updated_at_ms=now_ms, **changes)
        return await self.save(moved, expect=upload if compare else None)

    async def forget(self, record_id: bytes, *, expect: PendingUpload | None = None) -> None:
        """Delete an upload that never happened (the nodes refused it); given ``expect``, only
        if the stored state is still ``expect`` (else :class:`Changed`)."""
        async with self._writing:
            self._expect(record_id, expect)

            def write() -> None:
                ops = self._body_deletes(record_id)
                ops[UPLOAD_PREFIX + record_id] = None
                self._store.write(ops)

            await trio.to_thread.run_sync(write)
            self._open.pop(record_id, None)
            self._done.pop(record_id, None)

    def _expect(self, record_id: bytes, expect: PendingUpload | None) -> None:
        if expect is None:
            return
        stored = self.get(record_id)
        if stored is None or stored.version != expect.version:
            raise Changed(record_id.hex())

    def _body_deletes(self, record_id: bytes) -> dict[bytes, bytes | None]:
        return {key: None for key, _ in self._store.iterate(BODY_PREFIX + record_id)}


def _body_ops(record_id: bytes, tx: bytes, fragments: tuple[bytes, ...]) -> dict[bytes, bytes]:
    ops = {tx_key(record_id): tx}
    ops.update({fragment_key(record_id, j): f for j, f in enumerate(fragments)})
    return ops
