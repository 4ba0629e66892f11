"""client.uploads: the saved state of an unfinished put, written and read back, and refused
when it is missing or damaged."""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path

import pytest

from client import IntegrityError, UploadStateError
from client.uploads import (
    PendingUpload,
    forget_upload,
    load_upload,
    save_upload,
    unfinished_uploads,
    upload_dir,
)
from crypto.signing import SigningKey
from crypto.storage import encode
from ledger.transactions import PutRecord, member_id_for


def pending(bulk: bytes = b"sealed file bytes " * 20) -> PendingUpload:
    key = SigningKey.generate()
    coded = encode(bulk, 3, 4)
    tx = PutRecord(
        record_id=secrets.token_bytes(32),
        owner=member_id_for(key.verify_key),
        keywords_hash=bytes(32),
        policy="",
        access_limit=5,
        metadata_ciphertext=b"m",
        storage_commitments=coded.commitment.to_bytes(),
        abe_ciphertext=b"",
        domain_epoch=0,
        domain_ciphertext=b"",
        created_at_ms=1,
    )
    return PendingUpload(tx.signed(key, "chain"), bulk, b"\x07" * 32, "scan.txt")


def test_a_saved_upload_reads_back_whole(tmp_path: Path) -> None:
    upload = pending()
    root = save_upload(tmp_path, upload)
    assert root == upload_dir(tmp_path, upload.record_id)
    assert {p.name for p in root.iterdir()} == {"put_tx", "bulk", "upload.json"}
    assert (root / "bulk").stat().st_mode & 0o077 == 0
    again = load_upload(tmp_path, upload.record_id)
    assert again == upload
    assert again.tx_id == upload.put.tx_id().hex()
    assert [f.to_bytes() for f in again.fragments()] == [
        f.to_bytes() for f in encode(upload.bulk, 3, 4).fragments
    ]
    assert unfinished_uploads(tmp_path) == [upload.record_id]
    forget_upload(tmp_path, upload.record_id)
    assert unfinished_uploads(tmp_path) == []


def test_a_missing_upload_names_the_unfinished_ones(tmp_path: Path) -> None:
    kept = pending()
    save_upload(tmp_path, kept)
    with pytest.raises(UploadStateError, match=kept.record_id.hex()) as info:
        load_upload(tmp_path, b"\x01" * 32)
    assert "no unfinished upload of record " + "01" * 32 in str(info.value)


def test_a_save_that_did_not_finish_is_not_listed(tmp_path: Path) -> None:
    upload = pending()
    root = save_upload(tmp_path, upload)
    (root / "upload.json").unlink()
    assert unfinished_uploads(tmp_path) == []
    with pytest.raises(UploadStateError, match="no unfinished upload"):
        load_upload(tmp_path, upload.record_id)


def test_damaged_state_is_refused(tmp_path: Path) -> None:
    upload = pending()
    root = save_upload(tmp_path, upload)
    (root / "put_tx").write_bytes(b"\x00garbage")
    with pytest.raises(UploadStateError, match="damaged"):
        load_upload(tmp_path, upload.record_id)
    other = pending()
    save_upload(tmp_path, upload)
    (root / "put_tx").write_bytes(other.put.to_bytes())
    with pytest.raises(UploadStateError, match="another record"):
        load_upload(tmp_path, upload.record_id)
    save_upload(tmp_path, upload)
    state = json.loads((root / "upload.json").read_text())
    (root / "upload.json").write_text(json.dumps({**state, "version": 9}))
    with pytest.raises(UploadStateError, match="version 9"):
        load_upload(tmp_path, upload.record_id)


def test_a_ciphertext_that_does_not_match_the_commitment_is_refused() -> None:
    upload = pending()
    altered = dataclasses.replace(upload, bulk=upload.bulk[:-1] + b"!")
    with pytest.raises(IntegrityError, match="does not match"):
        altered.fragments()
