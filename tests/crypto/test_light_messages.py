"""Canonical encodings of the lightweight profile: round trips, refusals, stored vectors.

Set IOMTSHARE_REGEN_VECTORS=1 to rewrite tests/vectors/light_vectors.json after a deliberate
format change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from crypto.light import derivations
from crypto.light.curve import L, Point, scalar_from_bytes, scalar_to_bytes
from crypto.light.exchange import AccessRequest, KeyRequest, KeyResponse, Upload
from crypto.light.messages import (
    AuthorityPublic,
    PatientKey,
    PatientKeyGrant,
    PatientRecord,
    PatientRegistration,
    UserCredential,
    WarrantRecord,
)
from crypto.light.schnorr import SchnorrProof
from crypto.signing import SigningKey

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "light_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"

scalars = st.integers(min_value=1, max_value=L - 1)
points = scalars.map(Point.base_mul)
ids = st.binary(min_size=32, max_size=32)
times = st.integers(min_value=0, max_value=2**64 - 1)
member_sets = st.lists(ids, max_size=5, unique=True).map(lambda m: tuple(sorted(m)))
signatures = st.binary(min_size=64, max_size=64)
nonces = st.binary(min_size=16, max_size=16)
digests = st.binary(min_size=32, max_size=32)
proofs = st.builds(SchnorrProof, points, scalars)

MESSAGES: dict[type[Any], st.SearchStrategy[Any]] = {
    AuthorityPublic: st.builds(AuthorityPublic, points, st.just(SigningKey(bytes(32)).verify_key)),
    WarrantRecord: st.builds(WarrantRecord, ids, points, points, times, signatures),
    UserCredential: st.builds(UserCredential, ids, scalars, scalars, times),
    PatientRegistration: st.builds(
        PatientRegistration, member_sets, points, ids, st.binary(max_size=64), times
    ),
    PatientRecord: st.builds(PatientRecord, ids, member_sets, signatures),
    PatientKeyGrant: st.builds(PatientKeyGrant, ids, st.binary(max_size=80)),
    PatientKey: st.builds(PatientKey, ids, scalars),
    Upload: st.builds(Upload, ids, points, scalars, digests, digests, st.binary(), times),
    AccessRequest: st.builds(AccessRequest, ids, ids, times, nonces, proofs),
    KeyRequest: st.builds(KeyRequest, ids, ids, times, nonces, digests),
    KeyResponse: st.builds(KeyResponse, ids, st.binary(max_size=80)),
}


@pytest.mark.parametrize("kind", list(MESSAGES), ids=lambda k: k.__name__)
def test_round_trip_and_exact_parsing(kind: type[Any]) -> None:
    @settings(max_examples=25)
    @given(MESSAGES[kind])
    def check(message: Any) -> None:
        data = message.to_bytes()
        assert kind.from_bytes(data) == message
        with pytest.raises(DecodeError):
            kind.from_bytes(data + b"\x00")
        with pytest.raises(DecodeError):
            kind.from_bytes(data[:-1])
        with pytest.raises(DecodeError):
            kind.from_bytes(bytes([data[0] ^ 0x40]) + data[1:])

    check()


def test_scalar_and_point_decoding_refuse_non_canonical_input() -> None:
    with pytest.raises(DecodeError):
        scalar_from_bytes(L.to_bytes(32, "little"))
    with pytest.raises(DecodeError):
        Point(bytes(32))  # not a prime-order point (identity-adjacent encoding)
    with pytest.raises(DecodeError):
        Point(bytes([1]) + bytes(31))  # the identity
    assert scalar_from_bytes(scalar_to_bytes(L - 1)) == L - 1


def test_user_set_must_be_sorted() -> None:
    a, b = bytes([1]) * 32, bytes([2]) * 32
    record = PatientRecord(bytes(32), (a, b), bytes(64))
    data = record.to_bytes().replace(a + b, b + a)
    with pytest.raises(DecodeError):
        PatientRecord.from_bytes(data)


def _fixed_inputs() -> dict[str, Any]:
    key = PatientKey(bytes(range(32)), 0x1234567890ABCDEF)
    return {
        "key": key,
        "y": Point.base_mul(7),
        "z": Point.base_mul(11),
        "b1": Point.base_mul(3),
        "b2": Point.base_mul(5),
    }


def _build_vectors() -> dict[str, str]:
    f = _fixed_inputs()
    key, y = f["key"], f["y"]
    upload = Upload(key.temporary_id, y, 42, bytes(32), bytes([1]) * 32, b"ciphertext", 1000)
    request = AccessRequest(bytes([9]) * 32, key.temporary_id, 1001, bytes(16), SchnorrProof(y, 5))
    warrant = WarrantRecord(bytes([9]) * 32, f["b1"], f["b2"], 2000, bytes([7]) * 64)
    return {
        "upload": upload.to_bytes().hex(),
        "access_request": request.to_bytes().hex(),
        "warrant_record": warrant.to_bytes().hex(),
        "patient_key": key.to_bytes().hex(),
        "warrant_point": bytes(derivations.warrant_point(f["b1"], f["b2"], bytes(32), 2000)).hex(),
        "temporary_id": derivations.temporary_id(b"pid", y, (bytes(32),), 1000).hex(),
        "mask": scalar_to_bytes(derivations.mask(key, y)).hex(),
        "alpha": derivations.alpha(key, 42, y).hex(),
        "beta": derivations.beta(key, b"ciphertext", 1000).hex(),
        "data_key": derivations.data_key(99, key, f["z"]).hex(),
    }


def test_stored_vectors() -> None:
    built = _build_vectors()
    if REGENERATE:
        VECTORS.write_text(json.dumps(built, indent=2) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == built
    assert Upload.from_bytes(bytes.fromhex(stored["upload"])).to_bytes().hex() == stored["upload"]
