"""The edge's uploads on disk, from before their record is submitted until its fragments are
handed over.

An edge answers a device's upload once a consensus node took the record, then waits for the
commit and hands the fragments over (:mod:`node.edge.upload_finisher`). So that a kill anywhere
in between leaves nothing half done, :meth:`PendingUploads.save` writes the upload to the edge's
LevelDB (the header store under ``data/headers``) *before* the record is sent, and every move
of its state is written again::

    u || record_id (32 bytes)  ->  PendingUpload (canonical, tag 0x92, version 1)

(The store's other keys are ``h``/``tip`` of the header chain and ``n``/``N`` of the fetch
nonces.) While the upload is open (``submitted``, ``unconfirmed``, ``committed``) the value
holds the signed PutRecord and the fragments; once it is ``stored`` or ``failed`` they are
dropped and the small state is kept for ``GET /devices/{id}/uploads/{record}``, the last
:data:`KEPT_DONE` of them.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from crypto import tags
from crypto.errors import DecodeError
from ledger.encoding import BLOB, HASH, TEXT, U8, U32, U64, Encoded, optional, sequence
from ledger.kv import KeyValueStore

logger = logging.getLogger("iomtshare.node.edge.uploads")

TAG_PENDING_UPLOAD = tags.EDGE_PENDING_UPLOAD
UPLOAD_PREFIX = b"u"
#: Finished (stored or failed) uploads kept for the status route.
KEPT_DONE = 1024


class UploadStatus(IntEnum):
    """``SUBMITTED``: written, then sent (a node may or may not have it). ``UNCONFIRMED``: the
    edge answered 503 because no node confirmed it; it is only watched, never resent.
    ``COMMITTED``: in a block, fragments not yet handed over. ``STORED``, ``FAILED``: done."""

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


@dataclass(frozen=True, slots=True)
class PendingUpload(Encoded):
    """One upload: its record, transaction and state; ``tx`` (the signed PutRecord) and
    ``fragments`` while it is open. Times are the edge's wall clock in ms."""

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
    tx: bytes
    fragments: tuple[bytes, ...]

    TAG = TAG_PENDING_UPLOAD
    FIELDS = (
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
        ("tx", BLOB),
        ("fragments", sequence(BLOB)),
    )

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


class PendingUploads:
    """The uploads under :data:`UPLOAD_PREFIX` of ``store``. Opening reads every entry once
    (an undecodable one is logged and left alone); each write is one synced batch."""

    def __init__(self, store: KeyValueStore, *, kept_done: int = KEPT_DONE) -> None:
        self._store = store
        self._kept_done = kept_done
        open_: list[tuple[int, bytes]] = []
        done: list[tuple[int, bytes]] = []
        for key, value in store.iterate(UPLOAD_PREFIX):
            try:
                upload = PendingUpload.from_bytes(value)
            except DecodeError as exc:
                logger.warning("damaged upload state key=%s: %s", key.hex(), exc)
                continue
            (done if upload.done else open_).append((upload.updated_at_ms, upload.record_id))
        # Least recently written first, in both.
        self._open = OrderedDict((record_id, None) for _, record_id in sorted(open_))
        self._done = OrderedDict((record_id, None) for _, record_id in sorted(done))

    def get(self, record_id: bytes) -> PendingUpload | None:
        raw = self._store.get(UPLOAD_PREFIX + record_id)
        if raw is None:
            return None
        try:
            return PendingUpload.from_bytes(raw)
        except DecodeError as exc:
            logger.warning("damaged upload state record=%s: %s", record_id.hex(), exc)
            return None

    def open_ids(self) -> list[bytes]:
        """Open uploads, least recently written first."""
        return list(self._open)

    def open_count(self) -> int:
        return len(self._open)

    def save(self, upload: PendingUpload) -> PendingUpload:
        """Write ``upload`` (a done one without its transaction and fragments) durably;
        raises ``ledger.errors.StoreError``."""
        if upload.done and (upload.tx or upload.fragments):
            upload = replace(upload, tx=b"", fragments=())
        ops: dict[bytes, bytes | None] = {UPLOAD_PREFIX + upload.record_id: upload.to_bytes()}
        evicted: list[bytes] = []
        if upload.done:
            kept = [r for r in self._done if r != upload.record_id]
            evicted = kept[: max(0, len(kept) + 1 - self._kept_done)]
            ops.update({UPLOAD_PREFIX + r: None for r in evicted})
        self._store.write(ops)
        self._open.pop(upload.record_id, None)
        self._done.pop(upload.record_id, None)
        for record_id in evicted:
            self._done.pop(record_id, None)
        (self._done if upload.done else self._open)[upload.record_id] = None
        return upload

    def move(self, upload: PendingUpload, status: UploadStatus, now_ms: int,
             **changes: Any) -> PendingUpload:
        """Save ``upload`` in ``status`` (with ``changes``) as of ``now_ms``."""
        return self.save(replace(upload, state=int(status), updated_at_ms=now_ms, **changes))

    def forget(self, record_id: bytes) -> None:
        """Delete an upload that never happened (the nodes refused it)."""
        self._store.write({UPLOAD_PREFIX + record_id: None})
        self._open.pop(record_id, None)
        self._done.pop(record_id, None)
