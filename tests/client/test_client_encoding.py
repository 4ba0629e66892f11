"""The client library's encodings and key files: metadata round trips and vector, key store,
member file.

Run with ``IOMTSHARE_REGEN_VECTORS=1`` to rewrite ``tests/vectors/client_vectors.json`` after a
deliberate format change.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client import KeyStoreError, MemberKeys, MemberPublic, load_member, save_member
from client.keystore import parse_role
from crypto.errors import DecodeError
from crypto.groups import load_group
from ledger.access_token import AccessToken
from ledger.record_metadata import RecordMetadata, keywords_hash
from ledger.transactions import MemberRole, member_id_for

VECTORS = Path(__file__).parents[1] / "vectors" / "client_vectors.json"

digests = st.binary(min_size=32, max_size=32)
names = st.text(max_size=60)


@given(dek=digests, file_digest=digests, size=st.integers(0, 2**64 - 1), c=digests, name=names)
def test_metadata_round_trip(
    dek: bytes, file_digest: bytes, size: int, c: bytes, name: str
) -> None:
    metadata = RecordMetadata(dek, file_digest, size, c, name)
    assert RecordMetadata.from_bytes(metadata.to_bytes()) == metadata


@given(data=st.binary(max_size=200))
def test_metadata_decoding_never_crashes(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        RecordMetadata.from_bytes(data)


def test_metadata_rejects_trailing_bytes_and_hides_the_dek() -> None:
    metadata = RecordMetadata(b"\x01" * 32, b"\x02" * 32, 7, b"\x03" * 32, "a.txt")
    with pytest.raises(DecodeError):
        RecordMetadata.from_bytes(metadata.to_bytes() + b"\x00")
    with pytest.raises(DecodeError):
        RecordMetadata(b"\x01" * 31, b"\x02" * 32, 7, b"\x03" * 32)
    assert "0101" not in repr(metadata)


def _vectors() -> dict[str, str]:
    metadata = RecordMetadata(bytes(range(32)), bytes(range(32, 64)), 1234, b"\xaa" * 32, "x.csv")
    return {
        "record_metadata": metadata.to_bytes().hex(),
        "keywords_hash": keywords_hash(["ecg", "2026", "ecg"]).hex(),
        "access_token_payload": AccessToken(
            b"\x01" * 32, b"\x02" * 32, b"\x04" * 32, 1_700_000_600_000, None,
            1_700_000_000_000, b"\x03" * 16,
        ).signing_payload("chain").hex(),
    }


def test_stored_vectors() -> None:
    current = _vectors()
    if os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1":
        VECTORS.write_text(json.dumps(
            {"comment": "client encodings; regenerate with IOMTSHARE_REGEN_VECTORS=1",
             "vectors": current}, indent=2) + "\n")
    stored = json.loads(VECTORS.read_text())["vectors"]
    assert stored == current
    decoded = RecordMetadata.from_bytes(bytes.fromhex(stored["record_metadata"]))
    assert decoded.size == 1234
    assert decoded.name == "x.csv"


def test_keywords_hash_ignores_order_and_repeats() -> None:
    assert keywords_hash(["b", "a"]) == keywords_hash(["a", "b", "a"])
    assert keywords_hash(["ab"]) != keywords_hash(["a", "b"])


def test_key_store_round_trip(tmp_path: Path) -> None:
    group = load_group("mcl")
    keys = MemberKeys.generate(group, MemberRole.REQUESTER)
    path = save_member(tmp_path / "alice", keys)
    loaded = load_member(tmp_path / "alice", group)
    assert loaded.public() == keys.public()
    assert loaded.tpre_secret.scalar == keys.tpre_secret.scalar
    assert MemberPublic.load(path).member_id == member_id_for(keys.signing_key.verify_key)
    for name in ("member_key", "box_key", "tpre_key"):
        assert stat.S_IMODE((tmp_path / "alice" / name).stat().st_mode) == 0o600
    assert keys.signing_key.seed().hex() not in repr(keys)
    with pytest.raises(KeyStoreError, match="refusing to overwrite"):
        save_member(tmp_path / "alice", keys)


def test_key_store_detects_mismatch_and_damage(tmp_path: Path) -> None:
    group = load_group("mcl")
    save_member(tmp_path / "a", MemberKeys.generate(group))
    save_member(tmp_path / "b", MemberKeys.generate(group))
    (tmp_path / "a" / "member.json").write_bytes((tmp_path / "b" / "member.json").read_bytes())
    with pytest.raises(KeyStoreError, match="does not match"):
        load_member(tmp_path / "a", group)
    (tmp_path / "b" / "tpre_key").write_bytes(b"\x00" * 5)
    with pytest.raises(KeyStoreError, match="malformed"):
        load_member(tmp_path / "b", group)
    with pytest.raises(KeyStoreError, match="cannot read"):
        load_member(tmp_path / "missing", group)
    save_member(tmp_path / "c", MemberKeys.generate(group))
    (tmp_path / "c" / "box_key").write_bytes(b"\x01" * 31)
    with pytest.raises(KeyStoreError, match="box_key must hold 32 bytes"):
        load_member(tmp_path / "c", group)


def test_member_file_checks_the_id(tmp_path: Path) -> None:
    document = MemberKeys.generate(load_group("mcl")).public().to_json()
    document["member_id"] = "00" * 32
    with pytest.raises(KeyStoreError, match="member id"):
        MemberPublic.from_json(document)
    with pytest.raises(KeyStoreError, match="malformed"):
        MemberPublic.from_json({"version": 1})


def test_parse_role() -> None:
    assert parse_role(" Owner ") is MemberRole.OWNER
    with pytest.raises(ValueError, match="unknown role"):
        parse_role("admin")
