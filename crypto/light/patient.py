"""The patient (and its sensors): registration with a temporary identity, encryption, upload.

Seed 001 steps "patient registration" (patient side), "encryption" and "upload". The sensor
needs only two edwards25519 scalar multiplications, hashes and one AEAD per reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crypto import aead
from crypto.errors import DecryptionError
from crypto.light.curve import L, Point, random_scalar, scalar_from_bytes
from crypto.light.derivations import (
    alpha,
    beta,
    data_key,
    identity_box_key,
    mask,
    patient_grant_key,
    temporary_id,
)
from crypto.light.errors import IntegrityError
from crypto.light.exchange import Upload
from crypto.light.messages import (
    AuthorityPublic,
    PatientKey,
    PatientKeyGrant,
    PatientRegistration,
    member_set,
)


@dataclass(frozen=True, slots=True)
class PendingRegistration:
    """What the patient keeps between sending its registration and receiving ``a_n``."""

    message: PatientRegistration
    shared_point: Point = field(repr=False)

    @property
    def temporary_id(self) -> bytes:
        return self.message.temporary_id


def start_registration(
    real_id: str, members: Sequence[bytes], authority: AuthorityPublic, now: int
) -> PendingRegistration:
    """Build ``<S, P1, Ptid, y_n, t2>`` for the authority.

    ``members`` are the pseudonyms of the users the patient lets read its data (the set S);
    ``now`` becomes the timestamp ``t2``. The real identity leaves only sealed to the authority.
    """
    k = random_scalar()
    p1 = Point.base_mul(k)
    p2 = authority.public_point * k
    member_tuple = member_set(members)
    real = real_id.encode()
    ptid = temporary_id(real, p2, member_tuple, now)
    sealed = aead.seal(identity_box_key(p2, p1), real, ptid)
    return PendingRegistration(PatientRegistration(member_tuple, p1, ptid, sealed, now), p2)


def finish_registration(pending: PendingRegistration, grant: PatientKeyGrant) -> PatientKey:
    """Open the authority's grant; raises :class:`IntegrityError` if it was not for us."""
    if grant.temporary_id != pending.temporary_id:
        raise IntegrityError("key grant is for another temporary identity")
    try:
        raw = aead.open_sealed(
            patient_grant_key(pending.shared_point, pending.temporary_id),
            grant.sealed_key,
            pending.temporary_id,
        )
    except DecryptionError as exc:
        raise IntegrityError("key grant does not open") from exc
    return PatientKey(pending.temporary_id, scalar_from_bytes(raw))


def encrypt_reading(key: PatientKey, reading: bytes, now: int) -> Upload:
    """Seed 001 encryption and upload: fresh ``x, y``; ``Y = yB``, ``Z = xY``; AEAD under K.

    ``now`` becomes the timestamp ``t3``. Costs two scalar multiplications.
    """
    x, y = random_scalar(), random_scalar()
    y_point = Point.base_mul(y)
    z = y_point * x
    d1 = (x + mask(key, y_point)) % L
    draft = Upload(key.temporary_id, y_point, d1, b"", b"", b"", now)
    ciphertext = aead.seal(data_key(x, key, z), reading, draft.header_bytes())
    return Upload(
        key.temporary_id,
        y_point,
        d1,
        alpha(key, d1, y_point),
        beta(key, ciphertext, now),
        ciphertext,
        now,
    )
