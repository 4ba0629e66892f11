"""Encodings of the device path: the DeviceUpload a device sends its edge, and the edge submit
protocol's request and reply. Round trips (hypothesis), exact decoding, and stored vectors.

Run with ``IOMTSHARE_REGEN_VECTORS=1`` to rewrite ``tests/vectors/device_path_vectors.json``
(version 1 of the upload and the submit protocol) and ``device_upload_v2_vectors.json`` (the
signed version 2).
"""

from __future__ import annotations

import dataclasses
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
from ledger.device_upload import UPLOAD_FIELDS, DeviceUpload
from ledger.encoding import Encoded
from node.edge.submit import EdgeSubmit, EdgeSubmitReply
from tests.ledger.strategies import for_type

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "device_path_vectors.json"
V2_VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "device_upload_v2_vectors.json"
TYPES: tuple[type[Encoded], ...] = (DeviceUpload, EdgeSubmit, EdgeSubmitReply)


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


@settings(max_examples=40)
@given(upload=for_type(DeviceUpload))
def test_version_1_round_trip(upload: DeviceUpload) -> None:
    """The unsigned version 1 still decodes (the edge names it), and never as version 2."""
    encoded = upload.version_1_bytes()
    assert encoded[:2] == bytes([DeviceUpload.TAG, 1])
    fields = {name: getattr(upload, name) for name, _ in UPLOAD_FIELDS}
    assert DeviceUpload.version_1_fields(encoded) == fields
    assert DeviceUpload(**fields, signature=upload.signature).version_1_bytes() == encoded
    for bad in (encoded + b"\x00", encoded[:-1]):
        with pytest.raises(DecodeError):
            DeviceUpload.version_1_fields(bad)
    with pytest.raises(DecodeError):
        DeviceUpload.from_bytes(encoded)
    with pytest.raises(DecodeError):
        DeviceUpload.version_1_fields(upload.to_bytes())


#: The version 1 sample (stored as ``device_upload``); its version 2 is signed below.
V1_SAMPLE = DeviceUpload(
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
    signature=b"",
)


def samples() -> dict[str, Encoded]:
    return {
        "edge_submit_tx": EdgeSubmit(1, bytes(32), b"tx bytes", ()),
        "edge_submit_fragments": EdgeSubmit(2, bytes(range(32)), b"", (b"f1", b"f2", b"f3")),
        "edge_submit_reply": EdgeSubmitReply("ok", "", bytes(range(32)), 4),
        "edge_submit_refusal": EdgeSubmitReply("not_edge", "only a genesis edge", b"", 0),
    }


def test_stored_vectors() -> None:
    current = {name: value.to_bytes().hex() for name, value in samples().items()}
    current["device_upload"] = V1_SAMPLE.version_1_bytes().hex()
    if os.environ.get("IOMTSHARE_REGEN_VECTORS"):
        VECTORS.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == current
    for name, value in samples().items():
        assert type(value).from_bytes(bytes.fromhex(stored[name])) == value
    fields = DeviceUpload.version_1_fields(bytes.fromhex(stored["device_upload"]))
    assert DeviceUpload(**fields, signature=b"") == V1_SAMPLE


def signed_sample() -> tuple[DeviceUpload, DeviceSecretKey, str]:
    """Version 2 of the stored version 1 sample, signed with a fixed key and nonce."""
    params = setup(load_group("mcl"))
    secret = DeviceSecretKey(0x0DE71CE, 0x5EC0DD)
    chain_id = "vector-chain"
    signature = sign(
        params, secret, chain_id.encode(), V1_SAMPLE.device_id, V1_SAMPLE.signed_message(),
        nonce=0xFEED,
    )
    return dataclasses.replace(V1_SAMPLE, signature=signature.to_bytes()), secret, chain_id


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
