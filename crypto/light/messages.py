"""Registration messages of the lightweight profile: authority keys, warrants, patients.

Every type has a canonical, versioned encoding (:mod:`crypto.codec`) with its own type tag in
0x70-0x7f. Types carrying secrets keep them out of ``repr``. Pseudonyms (user ``upid``, patient
``ptid``) are 32-byte digests; real identities never appear in any of these encodings except
sealed inside a patient's registration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError, VerificationError
from crypto.light.curve import POINT_SIZE, SCALAR_SIZE, Point, scalar_from_bytes, scalar_to_bytes
from crypto.light.errors import IntegrityError, WarrantError
from crypto.signing import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, VerifyKey

PSEUDONYM_SIZE = 32
#: Most members a patient may name in its user set S.
MAX_MEMBERS = 4096

TAG_AUTHORITY_PUBLIC = tags.LIGHT_AUTHORITY_PUBLIC
TAG_WARRANT_RECORD = tags.LIGHT_WARRANT_RECORD
TAG_USER_CREDENTIAL = tags.LIGHT_USER_CREDENTIAL
TAG_PATIENT_REGISTRATION = tags.LIGHT_PATIENT_REGISTRATION
TAG_PATIENT_RECORD = tags.LIGHT_PATIENT_RECORD
TAG_PATIENT_KEY_GRANT = tags.LIGHT_PATIENT_KEY_GRANT
TAG_PATIENT_KEY = tags.LIGHT_PATIENT_KEY
VERSION = 1


def _pseudonym(reader: Reader) -> bytes:
    return reader.fixed(PSEUDONYM_SIZE)


def _check_pseudonym(value: bytes, what: str) -> None:
    if len(value) != PSEUDONYM_SIZE:
        raise DecodeError(f"{what} must be {PSEUDONYM_SIZE} bytes")


def member_set(members: Sequence[bytes]) -> tuple[bytes, ...]:
    """The canonical form of a user set S: distinct pseudonyms in ascending order."""
    for member in members:
        _check_pseudonym(member, "member pseudonym")
    return tuple(sorted(set(members)))


def _write_members(writer: Writer, members: tuple[bytes, ...]) -> None:
    writer.seq(members, lambda w, m: w.fixed(m, PSEUDONYM_SIZE))


def _read_members(reader: Reader) -> tuple[bytes, ...]:
    members = tuple(reader.seq(_pseudonym, MAX_MEMBERS))
    if list(members) != sorted(set(members)):
        raise DecodeError("user set is not sorted and duplicate-free")
    return members


def encode_members(members: tuple[bytes, ...]) -> bytes:
    """Bytes of S as hashed into Ptid and a_n."""
    writer = Writer()
    _write_members(writer, members)
    return writer.to_bytes()


@dataclass(frozen=True, slots=True)
class AuthorityPublic:
    """Published by the authority (seed 001's TA): ``PK_TA = S_TA B`` and its Ed25519 key."""

    public_point: Point
    verify_key: VerifyKey

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_AUTHORITY_PUBLIC, VERSION)
        writer.fixed(bytes(self.public_point), POINT_SIZE)
        writer.fixed(bytes(self.verify_key), PUBLIC_KEY_SIZE)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> AuthorityPublic:
        def body(reader: Reader) -> AuthorityPublic:
            reader.expect_header(TAG_AUTHORITY_PUBLIC, VERSION)
            point = Point(reader.fixed(POINT_SIZE))
            return cls(point, VerifyKey(reader.fixed(PUBLIC_KEY_SIZE)))

        return parse(data, "authority public key", body)


@dataclass(frozen=True, slots=True)
class WarrantRecord:
    """What edges learn of a user's warrant: ``b1 = a1 B``, ``b2 = a2 B`` and expiry ``t1``.

    Signed by the authority (replacing seed 001's ``E1 = sk_CS h(...)`` integrity tag, which
    needs a secret shared with every edge).
    """

    user: bytes
    b1: Point
    b2: Point
    expiry: int
    signature: bytes = field(default=b"", compare=True)

    def __post_init__(self) -> None:
        _check_pseudonym(self.user, "user pseudonym")

    def signed_bytes(self) -> bytes:
        writer = Writer(TAG_WARRANT_RECORD, VERSION)
        writer.fixed(self.user, PSEUDONYM_SIZE)
        writer.fixed(bytes(self.b1), POINT_SIZE).fixed(bytes(self.b2), POINT_SIZE)
        writer.u64(self.expiry)
        return writer.to_bytes()

    def to_bytes(self) -> bytes:
        return self.signed_bytes() + Writer().fixed(self.signature, SIGNATURE_SIZE).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> WarrantRecord:
        def body(reader: Reader) -> WarrantRecord:
            reader.expect_header(TAG_WARRANT_RECORD, VERSION)
            user = _pseudonym(reader)
            b1, b2 = Point(reader.fixed(POINT_SIZE)), Point(reader.fixed(POINT_SIZE))
            expiry = reader.u64()
            return cls(user, b1, b2, expiry, reader.fixed(SIGNATURE_SIZE))

        return parse(data, "warrant record", body)

    def verify(self, authority: AuthorityPublic) -> None:
        """Raise :class:`WarrantError` unless the authority signed this record."""
        try:
            authority.verify_key.verify(self.signed_bytes(), self.signature)
        except VerificationError as exc:
            raise WarrantError("warrant record is not signed by the authority") from exc


@dataclass(frozen=True, slots=True)
class UserCredential:
    """A user's secrets from registration: ``sk_Uid``, ``warr`` and the warrant expiry.

    Delivered over a secure channel (e.g. a sealed box); ``repr`` shows only the pseudonym.
    """

    user: bytes
    secret_key: int = field(repr=False)
    warrant: int = field(repr=False)
    expiry: int

    def __post_init__(self) -> None:
        _check_pseudonym(self.user, "user pseudonym")

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_USER_CREDENTIAL, VERSION)
        writer.fixed(self.user, PSEUDONYM_SIZE)
        writer.fixed(scalar_to_bytes(self.secret_key), SCALAR_SIZE)
        writer.fixed(scalar_to_bytes(self.warrant), SCALAR_SIZE)
        writer.u64(self.expiry)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> UserCredential:
        def body(reader: Reader) -> UserCredential:
            reader.expect_header(TAG_USER_CREDENTIAL, VERSION)
            user = _pseudonym(reader)
            secret = scalar_from_bytes(reader.fixed(SCALAR_SIZE))
            warrant = scalar_from_bytes(reader.fixed(SCALAR_SIZE))
            return cls(user, secret, warrant, reader.u64())

        return parse(data, "user credential", body)


@dataclass(frozen=True, slots=True)
class PatientRegistration:
    """Patient to authority over an open channel: ``<S, P1, Ptid, y_n, t2>``.

    ``sealed_identity`` is the real identity under AEAD keyed by ``P2 = k PK_TA`` (seed 001 XORs
    it with ``h(P2)``, which caps its length and gives no integrity).
    """

    members: tuple[bytes, ...]
    p1: Point
    temporary_id: bytes
    sealed_identity: bytes
    timestamp: int

    def __post_init__(self) -> None:
        _check_pseudonym(self.temporary_id, "temporary identity")
        if self.members != member_set(self.members):
            raise DecodeError("user set must be sorted and duplicate-free")

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_PATIENT_REGISTRATION, VERSION)
        _write_members(writer, self.members)
        writer.fixed(bytes(self.p1), POINT_SIZE)
        writer.fixed(self.temporary_id, PSEUDONYM_SIZE)
        writer.blob(self.sealed_identity)
        writer.u64(self.timestamp)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> PatientRegistration:
        def body(reader: Reader) -> PatientRegistration:
            reader.expect_header(TAG_PATIENT_REGISTRATION, VERSION)
            members = _read_members(reader)
            p1 = Point(reader.fixed(POINT_SIZE))
            ptid = _pseudonym(reader)
            return cls(members, p1, ptid, reader.blob(4096), reader.u64())

        return parse(data, "patient registration", body)


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """What edges learn of a patient: its pseudonym and user set, signed by the authority.

    Seed 001 also sends ``h(Pid)``, which a dictionary of names inverts; it is left out.
    """

    temporary_id: bytes
    members: tuple[bytes, ...]
    signature: bytes = b""

    def __post_init__(self) -> None:
        _check_pseudonym(self.temporary_id, "temporary identity")
        if self.members != member_set(self.members):
            raise DecodeError("user set must be sorted and duplicate-free")

    def signed_bytes(self) -> bytes:
        writer = Writer(TAG_PATIENT_RECORD, VERSION)
        writer.fixed(self.temporary_id, PSEUDONYM_SIZE)
        _write_members(writer, self.members)
        return writer.to_bytes()

    def to_bytes(self) -> bytes:
        return self.signed_bytes() + Writer().fixed(self.signature, SIGNATURE_SIZE).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> PatientRecord:
        def body(reader: Reader) -> PatientRecord:
            reader.expect_header(TAG_PATIENT_RECORD, VERSION)
            ptid = _pseudonym(reader)
            return cls(ptid, _read_members(reader), reader.fixed(SIGNATURE_SIZE))

        return parse(data, "patient record", body)

    def verify(self, authority: AuthorityPublic) -> None:
        """Raise :class:`IntegrityError` unless the authority signed this record."""
        try:
            authority.verify_key.verify(self.signed_bytes(), self.signature)
        except VerificationError as exc:
            raise IntegrityError("patient record is not signed by the authority") from exc


@dataclass(frozen=True, slots=True)
class PatientKeyGrant:
    """Authority to patient: ``a_n`` sealed under a key only the patient and authority share."""

    temporary_id: bytes
    sealed_key: bytes

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_PATIENT_KEY_GRANT, VERSION)
        writer.fixed(self.temporary_id, PSEUDONYM_SIZE).blob(self.sealed_key)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> PatientKeyGrant:
        def body(reader: Reader) -> PatientKeyGrant:
            reader.expect_header(TAG_PATIENT_KEY_GRANT, VERSION)
            return cls(_pseudonym(reader), reader.blob(1024))

        return parse(data, "patient key grant", body)


@dataclass(frozen=True, slots=True)
class PatientKey:
    """``a_n`` for one patient pseudonym: what the patient, its edge and served users hold."""

    temporary_id: bytes
    secret: int = field(repr=False)

    def __post_init__(self) -> None:
        _check_pseudonym(self.temporary_id, "temporary identity")

    def secret_bytes(self) -> bytes:
        return scalar_to_bytes(self.secret)

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_PATIENT_KEY, VERSION)
        writer.fixed(self.temporary_id, PSEUDONYM_SIZE)
        writer.fixed(self.secret_bytes(), SCALAR_SIZE)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> PatientKey:
        def body(reader: Reader) -> PatientKey:
            reader.expect_header(TAG_PATIENT_KEY, VERSION)
            ptid = _pseudonym(reader)
            return cls(ptid, scalar_from_bytes(reader.fixed(SCALAR_SIZE)))

        return parse(data, "patient key", body)
