"""Encodings of the device path: the DeviceUpload a device sends its edge, and the edge submit
protocol's request and reply. Round trips (hypothesis), exact decoding, and stored vectors.

Run with ``IOMTSHARE_REGEN_VECTORS=1`` to rewrite ``tests/vectors/device_path_vectors.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from ledger.device_upload import DeviceUpload
from ledger.encoding import Encoded
from node.edge.submit import EdgeSubmit, EdgeSubmitReply
from tests.ledger.strategies import for_type

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "device_path_vectors.json"
TYPES: tuple[type[Encoded], ...] = (DeviceUpload, EdgeSubmit, EdgeSubmitReply)


@settings(max_examples=40)
@given(data=st.data())
@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.__name__)
def test_round_trip(cls: type[Encoded], data: st.DataObject) -> None:
    value = data.draw(for_type(cls))
    encoded = value.to_bytes()
    assert encoded[1] == 1  # version 1
    assert cls.from_bytes(encoded) == value
    assert cls.from_bytes(encoded).to_bytes() == encoded
    with pytest.raises(DecodeError):
        cls.from_bytes(encoded + b"\x00")
    with pytest.raises(DecodeError):
        cls.from_bytes(encoded[:-1])


def samples() -> dict[str, Encoded]:
    upload = DeviceUpload(
        device_id=bytes(range(32)),
        record_id=bytes(range(32, 64)),
        owner=bytes(range(64, 96)),
        policy="role:doctor",
        access_limit=5,
        keywords_hash=bytes(32),
        metadata_ciphertext=b"metadata",
        storage_commitment=b"commitment",
        abe_ciphertext=b"abe",
        device_ciphertext=b"dct",
        bulk=b"bulk data",
        created_at_ms=1_700_000_000_000,
    )
    return {
        "device_upload": upload,
        "edge_submit_tx": EdgeSubmit(1, bytes(32), b"tx bytes", ()),
        "edge_submit_fragments": EdgeSubmit(2, bytes(range(32)), b"", (b"f1", b"f2", b"f3")),
        "edge_submit_reply": EdgeSubmitReply("ok", "", bytes(range(32)), 4),
        "edge_submit_refusal": EdgeSubmitReply("not_edge", "only a genesis edge", b"", 0),
    }


def test_stored_vectors() -> None:
    current = {name: value.to_bytes().hex() for name, value in samples().items()}
    if os.environ.get("IOMTSHARE_REGEN_VECTORS"):
        VECTORS.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == current
    for name, value in samples().items():
        assert type(value).from_bytes(bytes.fromhex(stored[name])) == value
