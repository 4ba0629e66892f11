"""Encodings of the device path: the DeviceUpload a device sends its edge, and the edge submit
protocol's request and reply. Round trips (hypothesis), exact decoding, and stored vectors.

Run with ``IOMTSHARE_REGEN_VECTORS=1`` to rewrite ``tests/vectors/device_path_vectors.json``
(version 1 of the upload and the submit protocol) and ``device_upload_v2_vectors.json`` (the
signed version 2).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.dual import DeviceSecretKey, setup
from crypto.dual.device_signature import sign
from crypto.errors import DecodeError, VerificationError
from crypto.groups import load_group
from ledger.device_upload import DeviceUpload, DeviceUploadV1
from ledger.encoding import Encoded
from node.edge.submit import EdgeSubmit, EdgeSubmitReply
from tests.ledger.strategies import for_type

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "device_path_vectors.json"
V2_VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "device_upload_v2_vectors.json"
TYPES: tuple[type[Encoded], ...] = (DeviceUpload, DeviceUploadV1, EdgeSubmit, EdgeSubmitReply)


@settings(max_examples=40)
@given(data=st.data())
@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.__name__)
def test_round_trip(cls: type[Encoded], data: st.DataObject) -> None:
    value = data.draw(for_type(cls))
    encoded = value.to_bytes()
    assert encoded[1] == cls.VERSION
    assert cls.from_bytes(encoded) == value
    assert cls.from_bytes(encoded).to_bytes() == encoded
    with pytest.raises(DecodeError):
        cls.from_bytes(encoded + b"\x00")
    with pytest.raises(DecodeError):
        cls.from_bytes(encoded[:-1])


def samples() -> dict[str, Encoded]:
    upload = DeviceUploadV1(
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


def test_the_versions_do_not_decode_as_each_other() -> None:
    v1 = samples()["device_upload"]
    v2 = signed_sample()[0]
    with pytest.raises(DecodeError):
        DeviceUpload.from_bytes(v1.to_bytes())
    with pytest.raises(DecodeError):
        DeviceUploadV1.from_bytes(v2.to_bytes())


def signed_sample() -> tuple[DeviceUpload, DeviceSecretKey, str]:
    """Version 2 of the stored version 1 sample, signed with a fixed key and nonce."""
    params = setup(load_group("mcl"))
    secret = DeviceSecretKey(0x0DE71CE, 0x5EC0DD)
    chain_id = "vector-chain"
    v1 = samples()["device_upload"]
    unsigned = DeviceUpload(
        **{name: getattr(v1, name) for name, _ in DeviceUploadV1.FIELDS}, signature=b""
    )
    signature = sign(
        params, secret, chain_id.encode(), unsigned.device_id, unsigned.signed_message(),
        nonce=0xFEED,
    )
    upload = DeviceUpload(
        **{name: getattr(v1, name) for name, _ in DeviceUploadV1.FIELDS},
        signature=signature.to_bytes(),
    )
    return upload, secret, chain_id


def test_stored_signed_vector() -> None:
    upload, secret, chain_id = signed_sample()
    params = setup(load_group("mcl"))
    public = secret.public_key(params).to_bytes()
    current = {
        "chain_id": chain_id,
        "device_public_key": public.hex(),
        "device_upload_v2": upload.to_bytes().hex(),
        "signed_message": upload.signed_message().hex(),
    }
    if os.environ.get("IOMTSHARE_REGEN_VECTORS"):
        V2_VECTORS.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    stored = json.loads(V2_VECTORS.read_text())
    assert stored == current
    decoded = DeviceUpload.from_bytes(bytes.fromhex(stored["device_upload_v2"]))
    assert decoded == upload
    decoded.check_signature(params, public, chain_id)
    with pytest.raises(VerificationError):
        decoded.check_signature(params, public, "another-chain")
