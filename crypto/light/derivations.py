"""The seed 001 formulas that more than one party computes, each written once.

Every hash is tagged and length-prefixed; where the seed keys a check value with the patient's
secret real identity ``Pid``, it is keyed here with ``a_n`` instead, since ``Pid`` never leaves
the patient and the authority, and the public pseudonym ``Ptid`` stands in for it.
"""

from __future__ import annotations

import hmac

from crypto.hashing import digest
from crypto.kdf import derive_key
from crypto.light import labels
from crypto.light.curve import Point, hash_to_scalar, scalar_to_bytes
from crypto.light.errors import IntegrityError
from crypto.light.exchange import Upload
from crypto.light.messages import PatientKey, encode_members


def warrant_hash(user: bytes, expiry: int) -> int:
    """``h(Uid || t1)`` of the warrant equation ``warr B = b1 + b2 h(Uid || t1)``."""
    return hash_to_scalar(labels.WARRANT, user, expiry.to_bytes(8, "big"))


def warrant_point(b1: Point, b2: Point, user: bytes, expiry: int) -> Point:
    """``b1 + b2 h(Uid || t1)``: the public point whose discrete log is the warrant."""
    return b1 + b2 * warrant_hash(user, expiry)


def temporary_id(real_id: bytes, p2: Point, members: tuple[bytes, ...], timestamp: int) -> bytes:
    """``Ptid = h(Pid || P2 || S || t2)``."""
    return digest(
        labels.TEMPORARY_ID,
        real_id,
        bytes(p2),
        encode_members(members),
        timestamp.to_bytes(8, "big"),
    )


def identity_box_key(p2: Point, p1: Point) -> bytes:
    """AEAD key sealing the patient's real identity to the authority (from ``P2 = k S_TA B``)."""
    return derive_key(labels.KDF_IDENTITY_BOX, bytes(p2), bytes(p1))


def patient_grant_key(p2: Point, ptid: bytes) -> bytes:
    """AEAD key sealing ``a_n`` back to the patient."""
    return derive_key(labels.KDF_PATIENT_GRANT, bytes(p2), ptid)


def mask(key: PatientKey, y: Point) -> int:
    """The pad hiding ``x`` in ``d1 = x + mask`` (seed: ``d1 = a_n xor x xor Pid``).

    It depends on ``Y`` too, so it changes with every upload.
    """
    return hash_to_scalar(labels.MASK, key.secret_bytes(), key.temporary_id, bytes(y))


def alpha(key: PatientKey, d1: int, y: Point) -> bytes:
    """``alpha = h(Pid || d1 || Y)``, keyed with ``a_n``."""
    return digest(labels.ALPHA, key.secret_bytes(), key.temporary_id, scalar_to_bytes(d1), bytes(y))


def data_key(x: int, key: PatientKey, z: Point) -> bytes:
    """``K = h(x || a_n || Z || Pid)``, used as an AEAD key rather than an XOR pad."""
    return derive_key(
        labels.KDF_DATA_KEY, scalar_to_bytes(x), key.secret_bytes(), bytes(z), key.temporary_id
    )


def beta(key: PatientKey, ciphertext: bytes, timestamp: int) -> bytes:
    """``beta = h(M' || Pid || t3)``, keyed with ``a_n``."""
    return digest(
        labels.BETA, key.secret_bytes(), ciphertext, key.temporary_id, timestamp.to_bytes(8, "big")
    )


def check_upload(key: PatientKey, upload: Upload) -> None:
    """Recompute alpha and beta; raise :class:`IntegrityError` if either differs."""
    if upload.temporary_id != key.temporary_id:
        raise IntegrityError("upload is for another patient")
    if not hmac.compare_digest(alpha(key, upload.d1, upload.y), upload.alpha):
        raise IntegrityError("alpha does not match: Y or d1 was altered")
    if not hmac.compare_digest(beta(key, upload.ciphertext, upload.timestamp), upload.beta):
        raise IntegrityError("beta does not match: M' or t3 was altered")
