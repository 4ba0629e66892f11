"""An owner's unfinished uploads, kept in its member directory until the fragments are stored.

A put publishes a PutRecord, waits for its commit and only then uploads the fragments (nodes
take fragments of committed records only). So that a put stopped anywhere (Ctrl-C, a dropped
connection, a crash) can be finished, :func:`save_upload` writes what the put needs *before*
anything is sent::

    MEMBER/uploads/<record id>/put_tx        the signed PutRecord (canonical bytes)
    MEMBER/uploads/<record id>/bulk          the file's AEAD ciphertext, cut into the fragments
    MEMBER/uploads/<record id>/upload.json   {version, record_id, tx_id, file_digest, source}

The ciphertext is kept rather than rebuilt from the file: its nonce is random and its key is
only inside the sealed metadata. Both binary files are mode 0600. ``client put --resume RECORD``
loads the state (:func:`load_upload`), finishes the put and removes it (:func:`forget_upload`).
Errors are :class:`UploadStateError`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from client.errors import IntegrityError, UploadStateError
from crypto.errors import DecodeError
from crypto.storage import Fragment, StorageCommitment, encode
from ledger.keyfiles import write_atomic
from ledger.transactions import PutRecord

UPLOADS_DIR = "uploads"
PUT_TX_FILE = "put_tx"
BULK_FILE = "bulk"
STATE_FILE = "upload.json"
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """A signed PutRecord and the ciphertext its fragments are cut from."""

    put: PutRecord
    bulk: bytes
    file_digest: bytes
    source: str = ""

    @property
    def record_id(self) -> bytes:
        return self.put.record_id

    @property
    def tx_id(self) -> str:
        return self.put.tx_id().hex()

    def commitment(self) -> StorageCommitment:
        """The storage commitment the PutRecord publishes; raises :class:`IntegrityError`."""
        try:
            return StorageCommitment.from_bytes(self.put.storage_commitments)
        except DecodeError as exc:
            raise IntegrityError(f"the saved PutRecord has a malformed commitment: {exc}") from exc

    def fragments(self) -> tuple[Fragment, ...]:
        """The n fragments, checked against the published commitment (erasure coding is
        deterministic, so the ciphertext gives the same fragments every time)."""
        commitment = self.commitment()
        coded = encode(self.bulk, commitment.threshold, commitment.total)
        if coded.commitment != commitment:
            raise IntegrityError("the saved ciphertext does not match the record's commitment")
        return coded.fragments


def upload_dir(member_dir: str | Path, record_id: bytes) -> Path:
    return Path(member_dir) / UPLOADS_DIR / record_id.hex()


def save_upload(member_dir: str | Path, upload: PendingUpload) -> Path:
    """Write ``upload`` under the member directory; returns its directory.

    Raises :class:`UploadStateError` if the disk refuses.
    """
    root = upload_dir(member_dir, upload.record_id)
    state = {
        "version": STATE_VERSION,
        "record_id": upload.record_id.hex(),
        "tx_id": upload.tx_id,
        "file_digest": upload.file_digest.hex(),
        "source": upload.source,
    }
    try:
        root.mkdir(parents=True, exist_ok=True)
        write_atomic(root / PUT_TX_FILE, upload.put.to_bytes(), mode=0o600)
        write_atomic(root / BULK_FILE, upload.bulk, mode=0o600)
        # Written last: a directory without it is a save that did not finish.
        write_atomic(root / STATE_FILE, (json.dumps(state, indent=2) + "\n").encode())
    except OSError as exc:
        raise UploadStateError(f"cannot save the upload state in {root}: {exc}") from exc
    return root


def load_upload(member_dir: str | Path, record_id: bytes) -> PendingUpload:
    """The upload of ``record_id`` saved in ``member_dir``; raises :class:`UploadStateError`
    if there is none or it is damaged."""
    root = upload_dir(member_dir, record_id)
    if not (root / STATE_FILE).exists():
        waiting = ", ".join(r.hex() for r in unfinished_uploads(member_dir)) or "none"
        raise UploadStateError(
            f"no unfinished upload of record {record_id.hex()} in {member_dir} "
            f"(unfinished there: {waiting})"
        )
    try:
        state = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
        put = PutRecord.from_bytes((root / PUT_TX_FILE).read_bytes())
        bulk = (root / BULK_FILE).read_bytes()
        if state["version"] != STATE_VERSION:
            raise UploadStateError(f"{root}: state version {state['version']!r} unsupported")
        upload = PendingUpload(
            put=put,
            bulk=bulk,
            file_digest=bytes.fromhex(state["file_digest"]),
            source=str(state.get("source", "")),
        )
    except OSError as exc:
        raise UploadStateError(f"cannot read the upload state in {root}: {exc}") from exc
    except (DecodeError, ValueError, KeyError, TypeError) as exc:
        raise UploadStateError(f"damaged upload state in {root}: {exc!r}") from exc
    if upload.record_id != record_id or state["tx_id"] != upload.tx_id:
        raise UploadStateError(f"damaged upload state in {root}: it names another record")
    return upload


def unfinished_uploads(member_dir: str | Path) -> list[bytes]:
    """Record ids of the uploads saved in ``member_dir`` (complete saves only), sorted."""
    found = []
    for entry in sorted((Path(member_dir) / UPLOADS_DIR).glob(f"*/{STATE_FILE}")):
        try:
            record_id = bytes.fromhex(entry.parent.name)
        except ValueError:
            continue
        if len(record_id) == 32:
            found.append(record_id)
    return found


def forget_upload(member_dir: str | Path, record_id: bytes) -> None:
    """Remove the saved state of a finished upload (nothing if there is none)."""
    shutil.rmtree(upload_dir(member_dir, record_id), ignore_errors=True)
