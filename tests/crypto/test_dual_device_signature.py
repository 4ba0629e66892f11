"""The device signature (proof of knowledge of u1): what it binds, its encoding, a stored vector.

Runs on both backends. Run with ``IOMTSHARE_REGEN_VECTORS=1`` to rewrite
``tests/vectors/device_signature_vectors.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.dual import DeviceSecretKey, DeviceSignature, DualParams, setup
from crypto.dual.device_signature import DEVICE_SIGNATURE_BYTES, sign, verify
from crypto.errors import DecodeError, VerificationError
from crypto.groups import Group
from crypto.groups.params import R
from crypto.groups.scalars import scalar_to_bytes

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "device_signature_vectors.json"
CHAIN = b"chain-a"
DEVICE = bytes(range(32))


@pytest.fixture(scope="module")
def params(group: Group) -> DualParams:
    return setup(group)


@pytest.fixture(scope="module")
def secret(params: DualParams) -> DeviceSecretKey:
    return DeviceSecretKey.generate(params)


def test_sign_verify(params: DualParams, secret: DeviceSecretKey) -> None:
    public = secret.public_key(params)
    signature = sign(params, secret, CHAIN, DEVICE, b"message")
    verify(params, public, CHAIN, DEVICE, b"message", signature)


@pytest.mark.parametrize("what", ["message", "chain", "device", "key", "response", "commitment"])
def test_anything_changed_fails(params: DualParams, secret: DeviceSecretKey, what: str) -> None:
    public = secret.public_key(params)
    signature = sign(params, secret, CHAIN, DEVICE, b"message")
    args = {"public": public, "chain_id": CHAIN, "device_id": DEVICE, "message": b"message"}
    if what == "message":
        args["message"] = b"messagf"
    elif what == "chain":
        args["chain_id"] = b"chain-b"
    elif what == "device":
        args["device_id"] = bytes(31) + b"\x01"
    elif what == "key":
        args["public"] = DeviceSecretKey.generate(params).public_key(params)
    elif what == "response":
        signature = DeviceSignature(signature.commitment, (signature.response + 1) % R)
    else:
        signature = DeviceSignature(signature.commitment + params.g0, signature.response)
    with pytest.raises(VerificationError):
        verify(params, signature=signature, **args)  # type: ignore[arg-type]


def test_public_data_alone_cannot_sign(params: DualParams, secret: DeviceSecretKey) -> None:
    """Signing with another secret (all an attacker without u1 can do) does not verify."""
    public = secret.public_key(params)
    forged = sign(params, DeviceSecretKey.generate(params), CHAIN, DEVICE, b"message")
    with pytest.raises(VerificationError):
        verify(params, public, CHAIN, DEVICE, b"message", forged)


@settings(max_examples=10, deadline=None)
@given(nonce=st.integers(1, R - 1), message=st.binary(max_size=64))
def test_round_trip(
    params: DualParams, secret: DeviceSecretKey, nonce: int, message: bytes
) -> None:
    signature = sign(params, secret, CHAIN, DEVICE, message, nonce=nonce)
    encoded = signature.to_bytes()
    assert len(encoded) == DEVICE_SIGNATURE_BYTES
    assert DeviceSignature.from_bytes(params, encoded) == signature
    with pytest.raises(DecodeError):
        DeviceSignature.from_bytes(params, encoded + b"\x00")
    with pytest.raises(DecodeError):
        DeviceSignature.from_bytes(params, encoded[:-1])
    with pytest.raises(DecodeError):
        DeviceSignature.from_bytes(params, encoded[:-32] + scalar_to_bytes(R - 1)[:-1] + b"\xff")


def test_stored_vector(params: DualParams) -> None:
    secret = DeviceSecretKey(0x1234567890ABCDEF, 0xFEDCBA0987654321)
    signature = sign(params, secret, CHAIN, DEVICE, b"stored vector", nonce=0xC0FFEE)
    current = {
        "device_secret_key": secret.to_bytes().hex(),
        "device_public_key": secret.public_key(params).to_bytes().hex(),
        "chain_id": CHAIN.hex(),
        "device_id": DEVICE.hex(),
        "message": b"stored vector".hex(),
        "nonce": 0xC0FFEE,
        "signature": signature.to_bytes().hex(),
    }
    if os.environ.get("IOMTSHARE_REGEN_VECTORS"):
        VECTORS.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == current
    decoded = DeviceSignature.from_bytes(params, bytes.fromhex(stored["signature"]))
    verify(params, secret.public_key(params), CHAIN, DEVICE, b"stored vector", decoded)
