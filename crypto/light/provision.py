"""What the authority hands an edge about one sensor patient, and what it keeps for itself.

:class:`SensorGrant` (authority to edge, sealed to the edge's X25519 key in transit and at rest)
carries everything the edge needs to accept a patient's uploads and put them on chain: the
signed :class:`~crypto.light.messages.PatientRecord`, the patient's ``a_n``, the authority's
``PK_TA``, the patient's member id (its pseudonym on chain) and TPRE public key, the device id
under which the chain lets this edge submit for that member, and the access policy of the
records it makes. The authority signs it with its Ed25519 key, over the chain id too.

:class:`PatientEntry` is the authority's own note linking a temporary identity to the real
identity; it is only ever stored sealed under a key derived from ``S_TA``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError, VerificationError
from crypto.light.curve import POINT_SIZE, Point
from crypto.light.errors import IntegrityError
from crypto.light.messages import PSEUDONYM_SIZE, AuthorityPublic, PatientKey, PatientRecord
from crypto.signing import SIGNATURE_SIZE, SigningKey, VerifyKey

TAG_SENSOR_GRANT = tags.LIGHT_SENSOR_GRANT
TAG_PATIENT_ENTRY = tags.LIGHT_PATIENT_ENTRY
VERSION = 1
ID_SIZE = 32
MAX_POLICY = 4096
MAX_KEY_BYTES = 1024
MAX_RECORD_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class SensorGrant:
    """Authority to edge: serve patient ``patient`` and submit its readings as ``owner``'s."""

    chain_id: str
    patient: PatientRecord
    key: PatientKey = field(repr=False)
    authority_point: Point
    owner: bytes
    owner_tpre_key: bytes
    device_id: bytes
    policy: str
    issued_at: int
    signature: bytes = b""

    def __post_init__(self) -> None:
        if self.key.temporary_id != self.patient.temporary_id:
            raise DecodeError("sensor grant: the key belongs to another temporary identity")
        if len(self.owner) != ID_SIZE or len(self.device_id) != ID_SIZE:
            raise DecodeError(f"sensor grant: owner and device id are {ID_SIZE} bytes")
        if not self.policy:
            raise DecodeError("sensor grant: the policy is empty")

    @property
    def temporary_id(self) -> bytes:
        return self.patient.temporary_id

    def signed_bytes(self) -> bytes:
        writer = Writer(TAG_SENSOR_GRANT, VERSION)
        writer.text(self.chain_id).blob(self.patient.to_bytes()).blob(self.key.to_bytes())
        writer.fixed(bytes(self.authority_point), POINT_SIZE)
        writer.fixed(self.owner, ID_SIZE).blob(self.owner_tpre_key)
        writer.fixed(self.device_id, ID_SIZE).text(self.policy).u64(self.issued_at)
        return writer.to_bytes()

    def to_bytes(self) -> bytes:
        return self.signed_bytes() + Writer().fixed(self.signature, SIGNATURE_SIZE).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> SensorGrant:
        def body(reader: Reader) -> SensorGrant:
            reader.expect_header(TAG_SENSOR_GRANT, VERSION)
            chain_id = reader.text()
            patient = PatientRecord.from_bytes(reader.blob(MAX_RECORD_BYTES))
            key = PatientKey.from_bytes(reader.blob(MAX_KEY_BYTES))
            point = Point(reader.fixed(POINT_SIZE))
            owner, tpre = reader.fixed(ID_SIZE), reader.blob(MAX_KEY_BYTES)
            device_id, policy = reader.fixed(ID_SIZE), reader.text(MAX_POLICY)
            issued_at, signature = reader.u64(), reader.fixed(SIGNATURE_SIZE)
            return cls(chain_id, patient, key, point, owner, tpre, device_id, policy, issued_at,
                       signature)

        return parse(data, "sensor grant", body)

    def signed(self, key: SigningKey) -> SensorGrant:
        """A copy signed by ``key`` (the authority's Ed25519 key)."""
        return _replace_signature(self, key.sign(self.signed_bytes()))

    def authority(self, verify_key: VerifyKey) -> AuthorityPublic:
        """The authority public key this grant names, with ``verify_key`` as its signer."""
        return AuthorityPublic(self.authority_point, verify_key)

    def verify(self, verify_key: VerifyKey, chain_id: str) -> None:
        """Raise :class:`IntegrityError` unless ``verify_key`` signed this grant for
        ``chain_id`` and signed the patient record inside it."""
        if self.chain_id != chain_id:
            raise IntegrityError(f"sensor grant is for chain {self.chain_id!r}, not {chain_id!r}")
        try:
            verify_key.verify(self.signed_bytes(), self.signature)
        except VerificationError as exc:
            raise IntegrityError("sensor grant is not signed by the authority") from exc
        self.patient.verify(self.authority(verify_key))


def _replace_signature(grant: SensorGrant, signature: bytes) -> SensorGrant:
    return SensorGrant(
        grant.chain_id, grant.patient, grant.key, grant.authority_point, grant.owner,
        grant.owner_tpre_key, grant.device_id, grant.policy, grant.issued_at, signature,
    )


@dataclass(frozen=True, slots=True)
class PatientEntry:
    """The authority's note on one registered sensor patient (stored sealed, never sent)."""

    temporary_id: bytes
    real_id: str = field(repr=False)
    owner: bytes
    edge: str
    device_id: bytes
    registered_at: int

    def __post_init__(self) -> None:
        if len(self.temporary_id) != PSEUDONYM_SIZE:
            raise DecodeError(f"temporary identity must be {PSEUDONYM_SIZE} bytes")
        if len(self.owner) != ID_SIZE or len(self.device_id) != ID_SIZE:
            raise DecodeError(f"patient entry: owner and device id are {ID_SIZE} bytes")

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_PATIENT_ENTRY, VERSION)
        writer.fixed(self.temporary_id, PSEUDONYM_SIZE).text(self.real_id)
        writer.fixed(self.owner, ID_SIZE).text(self.edge).fixed(self.device_id, ID_SIZE)
        return writer.u64(self.registered_at).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> PatientEntry:
        def body(reader: Reader) -> PatientEntry:
            reader.expect_header(TAG_PATIENT_ENTRY, VERSION)
            ptid, real = reader.fixed(PSEUDONYM_SIZE), reader.text()
            owner, edge, device_id = reader.fixed(ID_SIZE), reader.text(), reader.fixed(ID_SIZE)
            return cls(ptid, real, owner, edge, device_id, reader.u64())

        return parse(data, "patient entry", body)
