"""The edge node (seed 001's cloud server CS): checks uploads and access requests.

Seed 001's CS stores uploads without checking them and checks a warrant the user sends in the
clear. Here the edge holds ``a_n`` for the patients it serves (issued by the authority), so it
verifies alpha, beta, freshness and replay before accepting an upload, and it verifies a proof
of holding the warrant. Storing accepted uploads is the caller's job (crypto/ has no disk).
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.light.derivations import check_upload, warrant_point
from crypto.light.errors import AccessDeniedError, WarrantError
from crypto.light.exchange import AccessRequest, Upload
from crypto.light.freshness import FreshnessWindow, ReplayCache
from crypto.light.messages import AuthorityPublic, PatientKey, PatientRecord, WarrantRecord
from crypto.light.schnorr import verify


@dataclass(frozen=True, slots=True)
class VerifiedUpload:
    """An upload that passed freshness, replay, alpha and beta checks at this edge."""

    upload: Upload


@dataclass(frozen=True, slots=True)
class AuthorizedAccess:
    """An access request whose warrant proof, expiry, freshness and user set all checked out."""

    request: AccessRequest


class EdgeVerifier:
    """The edge's view of the authority's registrations, and its replay cache."""

    __slots__ = ("_keys", "_patients", "_replay", "_warrants", "authority")

    def __init__(self, authority: AuthorityPublic, window: FreshnessWindow | None = None) -> None:
        self.authority = authority
        self._warrants: dict[bytes, WarrantRecord] = {}
        self._patients: dict[bytes, PatientRecord] = {}
        self._keys: dict[bytes, PatientKey] = {}
        self._replay = ReplayCache(window)

    def __repr__(self) -> str:
        return f"EdgeVerifier(patients={len(self._patients)}, warrants={len(self._warrants)})"

    def add_warrant(self, record: WarrantRecord) -> None:
        """Accept a warrant record signed by the authority (raises :class:`WarrantError`)."""
        record.verify(self.authority)
        self._warrants[record.user] = record

    def add_patient(self, record: PatientRecord, key: PatientKey | None = None) -> None:
        """Accept a signed patient record and, for a patient served here, its ``a_n``.

        Raises :class:`~crypto.light.errors.IntegrityError` for a bad signature.
        """
        record.verify(self.authority)
        if key is not None and key.temporary_id != record.temporary_id:
            raise ValueError("patient key belongs to another temporary identity")
        self._patients[record.temporary_id] = record
        if key is not None:
            self._keys[record.temporary_id] = key

    def patient_key(self, temporary_id: bytes) -> PatientKey:
        try:
            return self._keys[temporary_id]
        except KeyError:
            raise AccessDeniedError("this edge does not serve that patient") from None

    def accept_upload(self, upload: Upload, now: int) -> VerifiedUpload:
        """Check freshness, alpha, beta, then replay; remember the upload as seen.

        Raises ``StaleMessageError``, ``IntegrityError``, ``ReplayError`` or
        :class:`AccessDeniedError` (patient not served here).
        """
        replay_id = upload.replay_id()
        self._replay.check(replay_id, upload.timestamp, now)
        check_upload(self.patient_key(upload.temporary_id), upload)
        self._replay.accept(replay_id, upload.timestamp, now)
        return VerifiedUpload(upload)

    def authorize(self, request: AccessRequest, now: int) -> AuthorizedAccess:
        """Seed 001 "verify integrity", edge side.

        The user must be in the patient's set S, the request fresh and new, the warrant unexpired
        at ``now`` and the proof valid for ``W = b1 + b2 h(Uid || t1)``. Raises
        ``StaleMessageError``, ``ReplayError``, :class:`WarrantError` or
        :class:`AccessDeniedError`.
        """
        replay_id = request.replay_id()
        self._replay.check(replay_id, request.timestamp, now)
        patient = self._patients.get(request.temporary_id)
        if patient is None or request.user not in patient.members:
            raise AccessDeniedError("user is not in the patient's user set")
        warrant = self._warrants.get(request.user)
        if warrant is None:
            raise WarrantError("no warrant on record for this user")
        if now > warrant.expiry:
            raise WarrantError("warrant has expired")
        public = warrant_point(warrant.b1, warrant.b2, warrant.user, warrant.expiry)
        verify(public, request.proof_message(), request.proof)
        self._replay.accept(replay_id, request.timestamp, now)
        return AuthorizedAccess(request)
