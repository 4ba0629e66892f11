"""Seed 001's lightweight profile end to end: registration, upload, request, decryption."""

from __future__ import annotations

import dataclasses

import pytest

from crypto.errors import DecryptionError
from crypto.light import (
    AccessDeniedError,
    Authority,
    EdgeVerifier,
    FreshnessWindow,
    IntegrityError,
    ReplayCache,
    ReplayError,
    StaleMessageError,
    WarrantError,
)
from crypto.light.curve import BASE, L, Point, random_scalar
from crypto.light.patient import encrypt_reading, finish_registration, start_registration
from crypto.light.schnorr import SchnorrProof, prove, verify
from crypto.light.user import access_request, decrypt_upload, key_request, open_key_response

NOW = 1_800_000_000
PATIENT = "patient:Jane Roe, born 1970-01-01"
DOCTOR = "doctor:Dr. John Smith #4711"
OUTSIDER = "doctor:Dr. Eve Mallory #666"


@dataclasses.dataclass
class World:
    authority: Authority
    edge: EdgeVerifier
    doctor: object
    outsider: object
    patient_key: object
    sent: list[bytes]


def _world(expiry: int = NOW + 3600) -> World:
    authority = Authority.setup(FreshnessWindow(max_age=30, max_skew=5))
    sent: list[bytes] = []
    doctor, doctor_warrant = authority.register_user(DOCTOR, expiry)
    outsider, outsider_warrant = authority.register_user(OUTSIDER, expiry)
    sent += [doctor_warrant.to_bytes(), outsider_warrant.to_bytes()]
    pending = start_registration(PATIENT, [doctor.user], authority.public, NOW)
    sent.append(pending.message.to_bytes())
    grant, record = authority.register_patient(pending.message, NOW + 1)
    sent += [grant.to_bytes(), record.to_bytes()]
    patient_key = finish_registration(pending, grant)
    edge = EdgeVerifier(authority.public)
    edge.add_warrant(doctor_warrant)
    edge.add_warrant(outsider_warrant)
    edge.add_patient(record, authority.patient_key(record.temporary_id))
    return World(authority, edge, doctor, outsider, patient_key, sent)


def test_full_flow_decrypts_and_never_shows_real_identities() -> None:
    w = _world()
    reading = b"heart-rate=72;spo2=98" * 20  # longer than one hash: XOR could not carry it
    upload = encrypt_reading(w.patient_key, reading, NOW + 10)
    w.edge.accept_upload(upload, NOW + 11)
    request = access_request(w.doctor, upload.temporary_id, NOW + 20)
    w.edge.authorize(request, NOW + 21)
    kreq = key_request(w.doctor, upload.temporary_id, NOW + 22)
    kresp = w.authority.answer_key_request(kreq, NOW + 23)
    key = open_key_response(w.doctor, kreq, kresp)
    assert decrypt_upload(key, upload) == reading
    w.sent += [upload.to_bytes(), request.to_bytes(), kreq.to_bytes(), kresp.to_bytes()]
    for real in (PATIENT, DOCTOR, OUTSIDER):
        for fragment in (real.encode(), real.split(":")[1].encode()):
            assert all(fragment not in message for message in w.sent)
    # The authority alone can still link the pseudonym to the patient.
    assert w.authority.patient_identities()[upload.temporary_id] == PATIENT.encode()


def test_replayed_upload_and_requests_are_refused() -> None:
    w = _world()
    upload = encrypt_reading(w.patient_key, b"t=36.6", NOW)
    w.edge.accept_upload(upload, NOW + 1)
    with pytest.raises(ReplayError):
        w.edge.accept_upload(upload, NOW + 2)
    request = access_request(w.doctor, upload.temporary_id, NOW)
    w.edge.authorize(request, NOW + 1)
    with pytest.raises(ReplayError):
        w.edge.authorize(request, NOW + 2)
    kreq = key_request(w.doctor, upload.temporary_id, NOW)
    w.authority.answer_key_request(kreq, NOW)
    with pytest.raises(ReplayError):
        w.authority.answer_key_request(kreq, NOW + 1)


def test_stale_and_future_messages_are_refused() -> None:
    w = _world()
    old = encrypt_reading(w.patient_key, b"x", NOW)
    with pytest.raises(StaleMessageError):
        w.edge.accept_upload(old, NOW + 31)
    ahead = encrypt_reading(w.patient_key, b"x", NOW + 60)
    with pytest.raises(StaleMessageError):
        w.edge.accept_upload(ahead, NOW)
    request = access_request(w.doctor, old.temporary_id, NOW)
    with pytest.raises(StaleMessageError):
        w.edge.authorize(request, NOW + 100)
    kreq = key_request(w.doctor, old.temporary_id, NOW)
    with pytest.raises(StaleMessageError):
        w.authority.answer_key_request(kreq, NOW + 100)
    pending = start_registration(PATIENT, [w.doctor.user], w.authority.public, NOW)
    with pytest.raises(StaleMessageError):
        w.authority.register_patient(pending.message, NOW + 31)


def test_expired_warrant_is_refused_by_edge_and_authority() -> None:
    w = _world(expiry=NOW + 100)
    request = access_request(w.doctor, w.patient_key.temporary_id, NOW + 200)
    with pytest.raises(WarrantError, match="expired"):
        w.edge.authorize(request, NOW + 200)
    kreq = key_request(w.doctor, w.patient_key.temporary_id, NOW + 200)
    with pytest.raises(WarrantError, match="expired"):
        w.authority.answer_key_request(kreq, NOW + 200)


def test_forged_warrants_are_refused() -> None:
    w = _world()
    ptid = w.patient_key.temporary_id
    # A proof made with a guessed warrant value.
    forged = dataclasses.replace(w.doctor, warrant=random_scalar())
    with pytest.raises(WarrantError):
        w.edge.authorize(access_request(forged, ptid, NOW), NOW)
    # A genuine proof moved onto another request (different nonce) does not verify.
    good = access_request(w.doctor, ptid, NOW)
    moved = dataclasses.replace(good, nonce=bytes(16))
    with pytest.raises(WarrantError):
        w.edge.authorize(moved, NOW)
    # A warrant record whose b1/b2 were swapped for ones the forger knows the logs of.
    _, record = w.authority.register_user("someone", NOW + 10)
    a = random_scalar()
    with pytest.raises(WarrantError):
        w.edge.add_warrant(dataclasses.replace(record, b1=Point.base_mul(a)))
    # A record signed by another authority.
    _, rogue = Authority.setup().register_user(DOCTOR, NOW + 10)
    with pytest.raises(WarrantError):
        w.edge.add_warrant(rogue)


def test_user_outside_the_patient_set_is_refused() -> None:
    w = _world()
    ptid = w.patient_key.temporary_id
    with pytest.raises(AccessDeniedError):
        w.edge.authorize(access_request(w.outsider, ptid, NOW), NOW)
    with pytest.raises(AccessDeniedError):
        w.authority.answer_key_request(key_request(w.outsider, ptid, NOW), NOW)


def test_key_request_with_wrong_secret_is_refused() -> None:
    w = _world()
    impostor = dataclasses.replace(w.doctor, secret_key=random_scalar())
    with pytest.raises(IntegrityError):
        w.authority.answer_key_request(key_request(impostor, w.patient_key.temporary_id, NOW), NOW)


def test_tampered_upload_fails_integrity_everywhere() -> None:
    w = _world()
    upload = encrypt_reading(w.patient_key, b"glucose=5.4", NOW)
    flipped = bytes([upload.ciphertext[-1] ^ 1])
    tampered = dataclasses.replace(upload, ciphertext=upload.ciphertext[:-1] + flipped)
    with pytest.raises(IntegrityError, match="beta"):
        w.edge.accept_upload(tampered, NOW)
    with pytest.raises(IntegrityError, match="beta"):
        decrypt_upload(w.patient_key, tampered)
    moved_y = dataclasses.replace(upload, y=upload.y + BASE)
    with pytest.raises(IntegrityError, match="alpha"):
        decrypt_upload(w.patient_key, moved_y)
    later = dataclasses.replace(upload, timestamp=upload.timestamp + 1)
    with pytest.raises(IntegrityError):
        w.edge.accept_upload(later, NOW)
    # Even with beta recomputed by a key holder, the AEAD still binds the header.
    from crypto.light.derivations import beta

    rebeta = dataclasses.replace(later, beta=beta(w.patient_key, later.ciphertext, later.timestamp))
    with pytest.raises(DecryptionError):
        decrypt_upload(w.patient_key, rebeta)


def test_forged_patient_registration_is_refused() -> None:
    w = _world()
    pending = start_registration(PATIENT, [w.doctor.user], w.authority.public, NOW)
    other = dataclasses.replace(pending.message, temporary_id=bytes(32))
    with pytest.raises(IntegrityError):
        w.authority.register_patient(other, NOW)
    widened = dataclasses.replace(pending.message, members=(w.outsider.user,))
    with pytest.raises(IntegrityError):
        w.authority.register_patient(widened, NOW)


def test_patients_with_the_same_user_set_get_different_keys() -> None:
    w = _world()
    pending = start_registration("patient:other", [w.doctor.user], w.authority.public, NOW)
    grant, _ = w.authority.register_patient(pending.message, NOW)
    other_key = finish_registration(pending, grant)
    assert other_key.secret != w.patient_key.secret
    upload = encrypt_reading(w.patient_key, b"secret", NOW)
    with pytest.raises(IntegrityError):
        decrypt_upload(dataclasses.replace(other_key, temporary_id=upload.temporary_id), upload)


def test_replay_cache_forgets_only_what_the_window_refuses() -> None:
    cache = ReplayCache(FreshnessWindow(max_age=10, max_skew=0))
    cache.accept(b"a", 100, 100)
    with pytest.raises(ReplayError):
        cache.accept(b"a", 100, 110)
    cache.accept(b"b", 111, 111)
    assert len(cache) == 1  # "a" left the window and was pruned
    with pytest.raises(StaleMessageError):
        cache.accept(b"a", 100, 111)


def test_schnorr_proof_binds_key_and_message() -> None:
    secret = random_scalar()
    proof = prove(secret, b"m")
    verify(Point.base_mul(secret), b"m", proof)
    with pytest.raises(WarrantError):
        verify(Point.base_mul(secret), b"other", proof)
    with pytest.raises(WarrantError):
        verify(Point.base_mul(secret + 1), b"m", proof)
    with pytest.raises(WarrantError):
        verify(
            Point.base_mul(secret), b"m", SchnorrProof(proof.commitment, (proof.response + 1) % L)
        )


def test_secrets_stay_out_of_repr() -> None:
    w = _world()
    text = repr(w.doctor) + repr(w.patient_key) + repr(w.authority)
    assert str(w.doctor.secret_key) not in text
    assert str(w.doctor.warrant) not in text
    assert str(w.patient_key.secret) not in text


def test_point_arithmetic_never_yields_the_identity() -> None:
    from crypto.errors import CryptoError

    a = random_scalar()
    with pytest.raises(CryptoError):
        _ = BASE * a + BASE * (L - a)
    with pytest.raises(CryptoError):
        _ = BASE * a - BASE * a
    with pytest.raises(CryptoError):
        Point.base_mul(L)
    assert BASE * a + BASE * 1 == Point.base_mul(a + 1)
