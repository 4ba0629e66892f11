"""Encodings of the authority's sensor grant and patient entry: round trips, exact parsing,
signature checks, stored vectors (tests/vectors/light_provision_vectors.json; rewrite with
IOMTSHARE_REGEN_VECTORS=1 after a deliberate format change)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from crypto.light.curve import L, Point
from crypto.light.errors import IntegrityError
from crypto.light.messages import PatientKey, PatientRecord
from crypto.light.provision import PatientEntry, SensorGrant
from crypto.signing import SigningKey

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "light_provision_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"

scalars = st.integers(min_value=1, max_value=L - 1)
ids = st.binary(min_size=32, max_size=32)
times = st.integers(min_value=0, max_value=2**64 - 1)
texts = st.text(min_size=1, max_size=40)
member_sets = st.lists(ids, max_size=4, unique=True).map(lambda m: tuple(sorted(m)))
signatures = st.binary(min_size=64, max_size=64)


@st.composite
def grants(draw: st.DrawFn) -> SensorGrant:
    ptid = draw(ids)
    return SensorGrant(
        draw(st.text(max_size=20)), PatientRecord(ptid, draw(member_sets), draw(signatures)),
        PatientKey(ptid, draw(scalars)), Point.base_mul(draw(scalars)), draw(ids),
        draw(st.binary(max_size=200)), draw(ids), draw(texts), draw(times), draw(signatures),
    )


entries = st.builds(PatientEntry, ids, st.text(max_size=60), ids, st.text(max_size=60), ids,
                    times)


@settings(max_examples=40, deadline=None)
@given(grants())
def test_sensor_grant_round_trip(grant: SensorGrant) -> None:
    raw = grant.to_bytes()
    assert SensorGrant.from_bytes(raw) == grant
    assert SensorGrant.from_bytes(raw).to_bytes() == raw
    with pytest.raises(DecodeError):
        SensorGrant.from_bytes(raw + b"\x00")
    with pytest.raises(DecodeError):
        SensorGrant.from_bytes(raw[:-1])


@settings(max_examples=40, deadline=None)
@given(entries)
def test_patient_entry_round_trip(entry: PatientEntry) -> None:
    raw = entry.to_bytes()
    assert PatientEntry.from_bytes(raw) == entry
    with pytest.raises(DecodeError):
        PatientEntry.from_bytes(raw + b"\x00")


def _fixed() -> tuple[SigningKey, SensorGrant, PatientEntry]:
    authority = SigningKey(bytes([3]) * 32)
    ptid = bytes([5]) * 32
    unsigned = PatientRecord(ptid, (bytes([9]) * 32,))
    record = PatientRecord(ptid, unsigned.members, authority.sign(unsigned.signed_bytes()))
    grant = SensorGrant(
        "iomtshare-test", record, PatientKey(ptid, 7), Point.base_mul(11), bytes([1]) * 32,
        b"tpre-key", bytes([2]) * 32, "role:doctor", 1_700_000_000,
    ).signed(authority)
    entry = PatientEntry(ptid, "real id", bytes([1]) * 32, "12D3KooWedge", bytes([2]) * 32,
                         1_700_000_000)
    return authority, grant, entry


def test_grant_signature_covers_every_field_and_the_chain() -> None:
    authority, grant, _ = _fixed()
    grant.verify(authority.verify_key, "iomtshare-test")
    with pytest.raises(IntegrityError):
        grant.verify(authority.verify_key, "another-chain")
    for change in ({"policy": "role:nurse"}, {"owner": bytes(32)}, {"device_id": bytes(32)}):
        with pytest.raises(IntegrityError):
            dataclasses.replace(grant, **change).verify(authority.verify_key, "iomtshare-test")
    with pytest.raises(IntegrityError):
        grant.verify(SigningKey(bytes([4]) * 32).verify_key, "iomtshare-test")


def test_grant_refuses_a_key_of_another_patient() -> None:
    _, grant, _ = _fixed()
    with pytest.raises(DecodeError):
        dataclasses.replace(grant, key=PatientKey(bytes(32), 7))


def test_stored_vectors() -> None:
    _, grant, entry = _fixed()
    built = {"sensor_grant": grant.to_bytes().hex(), "patient_entry": entry.to_bytes().hex()}
    if REGENERATE:
        VECTORS.write_text(json.dumps(built, indent=2) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == built
    assert SensorGrant.from_bytes(bytes.fromhex(stored["sensor_grant"])) == grant
    assert PatientEntry.from_bytes(bytes.fromhex(stored["patient_entry"])) == entry
