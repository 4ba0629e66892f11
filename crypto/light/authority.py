"""The authority (seed 001's TA): setup, user and patient registration, the decryption step.

The authority keeps its registries in memory; persisting them is the caller's business. Time is
passed in as ``now`` (seconds); every message it accepts passes its replay cache.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from crypto import aead
from crypto.errors import DecryptionError
from crypto.hashing import digest
from crypto.kdf import derive_key
from crypto.light import labels
from crypto.light.curve import L, Point, hash_to_scalar, random_scalar, scalar_to_bytes
from crypto.light.derivations import identity_box_key, patient_grant_key, temporary_id, warrant_hash
from crypto.light.errors import AccessDeniedError, IntegrityError, WarrantError
from crypto.light.exchange import KeyRequest, KeyResponse
from crypto.light.freshness import FreshnessWindow, ReplayCache
from crypto.light.messages import (
    AuthorityPublic,
    PatientKey,
    PatientKeyGrant,
    PatientRecord,
    PatientRegistration,
    UserCredential,
    WarrantRecord,
    encode_members,
)
from crypto.signing import SigningKey


@dataclass(frozen=True, slots=True)
class _RegisteredPatient:
    real_id: bytes = field(repr=False)
    members: tuple[bytes, ...]
    key: PatientKey = field(repr=False)


class Authority:
    """Holds ``S_TA`` and the signing key; registers users and patients."""

    __slots__ = ("_patients", "_replay", "_secret", "_signing_key", "_users", "public")

    def __init__(
        self, secret: int, signing_key: SigningKey, window: FreshnessWindow | None = None
    ) -> None:
        if not 0 < secret < L:
            raise ValueError("authority secret must be in [1, L)")
        self._secret = secret
        self._signing_key = signing_key
        self.public = AuthorityPublic(Point.base_mul(secret), signing_key.verify_key)
        self._users: dict[bytes, UserCredential] = {}
        self._patients: dict[bytes, _RegisteredPatient] = {}
        self._replay = ReplayCache(window)

    @classmethod
    def setup(cls, window: FreshnessWindow | None = None) -> Authority:
        """Seed 001 Setup: a fresh ``S_TA`` (and Ed25519 key); ``PK_TA = S_TA B``."""
        return cls(random_scalar(), SigningKey.generate(), window)

    def __repr__(self) -> str:
        return f"Authority(public={bytes(self.public.public_point).hex()[:16]}…)"

    def user_pseudonym(self, real_id: str) -> bytes:
        """The stable pseudonym of a user; only the authority can link it to ``real_id``."""
        return digest(labels.USER_PSEUDONYM, scalar_to_bytes(self._secret), real_id.encode())

    def register_user(self, real_id: str, expiry: int) -> tuple[UserCredential, WarrantRecord]:
        """Seed 001 user registration: ``sk_Uid``, warrant ``warr = a1 + a2 h(Uid || t1)``.

        Returns the credential (for the user, over a secure channel) and the signed warrant
        record (for edges). ``expiry`` (``t1``) is when the warrant stops being honoured.
        Re-registering a user replaces its previous credential.
        """
        user = self.user_pseudonym(real_id)
        secret_key = hash_to_scalar(labels.USER_IDENTITY, real_id.encode()) * random_scalar() % L
        a1, a2 = random_scalar(), random_scalar()
        warrant = (a1 + a2 * warrant_hash(user, expiry)) % L
        unsigned = WarrantRecord(user, Point.base_mul(a1), Point.base_mul(a2), expiry)
        record = WarrantRecord(
            user, unsigned.b1, unsigned.b2, expiry, self._signing_key.sign(unsigned.signed_bytes())
        )
        credential = UserCredential(user, secret_key, warrant, expiry)
        self._users[user] = credential
        return credential, record

    def register_patient(
        self, message: PatientRegistration, now: int
    ) -> tuple[PatientKeyGrant, PatientRecord]:
        """Seed 001 patient registration, TA side.

        Checks freshness and replay, recovers the real identity with ``P2* = S_TA P1``, checks
        ``Ptid``, computes ``a_n = h(S || Ptid) S_TA`` (binding ``Ptid`` too, so two patients
        naming the same users do not share a key). Returns the sealed grant for the patient and
        the signed record for edges. Raises :class:`~crypto.light.errors.StaleMessageError`,
        :class:`~crypto.light.errors.ReplayError` or :class:`IntegrityError`.
        """
        replay_id = digest(labels.REPLAY_ID, message.to_bytes())
        self._replay.check(replay_id, message.timestamp, now)
        p2 = message.p1 * self._secret
        try:
            real_id = aead.open_sealed(
                identity_box_key(p2, message.p1), message.sealed_identity, message.temporary_id
            )
        except DecryptionError as exc:
            raise IntegrityError("sealed identity does not open") from exc
        expected = temporary_id(real_id, p2, message.members, message.timestamp)
        if not hmac.compare_digest(expected, message.temporary_id):
            raise IntegrityError("temporary identity does not match the registration")
        self._replay.accept(replay_id, message.timestamp, now)
        ptid = message.temporary_id
        a_n = hash_to_scalar(labels.PATIENT_KEY, encode_members(message.members), ptid)
        key = PatientKey(ptid, a_n * self._secret % L)
        self._patients[ptid] = _RegisteredPatient(real_id, message.members, key)
        grant = PatientKeyGrant(
            ptid, aead.seal(patient_grant_key(p2, ptid), key.secret_bytes(), ptid)
        )
        unsigned = PatientRecord(ptid, message.members)
        record = PatientRecord(
            ptid, message.members, self._signing_key.sign(unsigned.signed_bytes())
        )
        return grant, record

    def patient_key(self, temporary_id: bytes) -> PatientKey:
        """``a_n`` of a registered patient, for the edge that serves it (seal it in transit)."""
        try:
            return self._patients[temporary_id].key
        except KeyError:
            raise AccessDeniedError("unknown patient") from None

    def patient_identities(self) -> Mapping[bytes, bytes]:
        """Pseudonym -> real identity, for the authority's own audit; never sent anywhere."""
        return {ptid: entry.real_id for ptid, entry in self._patients.items()}

    def answer_key_request(self, request: KeyRequest, now: int) -> KeyResponse:
        """Seed 001 decryption step, TA side: hand ``a_n`` to an authorised user.

        Checks freshness, replay, the ``c_n`` MAC under ``sk_Uid``, the warrant expiry and that
        the user is in the patient's set. Raises ``StaleMessageError``, ``ReplayError``,
        :class:`IntegrityError`, :class:`WarrantError` or :class:`AccessDeniedError`.
        """
        replay_id = request.replay_id()
        self._replay.check(replay_id, request.timestamp, now)
        credential = self._users.get(request.user)
        if credential is None:
            raise WarrantError("unknown user")
        if not hmac.compare_digest(key_request_mac(credential, request.mac_message()), request.mac):
            raise IntegrityError("key request MAC does not verify")
        if now > credential.expiry:
            raise WarrantError("warrant has expired")
        patient = self._patients.get(request.temporary_id)
        if patient is None or request.user not in patient.members:
            raise AccessDeniedError("user is not in the patient's user set")
        self._replay.accept(replay_id, request.timestamp, now)
        sealing_key = key_response_key(credential, request)
        sealed = aead.seal(sealing_key, patient.key.secret_bytes(), request.temporary_id)
        return KeyResponse(request.temporary_id, sealed)


def key_request_mac(credential: UserCredential, message: bytes) -> bytes:
    """``c_n = h(sk_Uid || ...)`` over the request's other fields."""
    return digest(labels.KEY_REQUEST_MAC, scalar_to_bytes(credential.secret_key), message)


def key_response_key(credential: UserCredential, request: KeyRequest) -> bytes:
    """AEAD key for the key response: from ``sk_Uid`` and this very request."""
    return derive_key(
        labels.KDF_KEY_RESPONSE, scalar_to_bytes(credential.secret_key), request.to_bytes()
    )
