"""The edge's sensor path (DESIGN 3.6): lightweight uploads in, policy records for the patient out.

The authority hands the edge one sealed :class:`~crypto.light.provision.SensorGrant` per patient
it serves (files ``EDGE_HOME/sensors/grants/*.grant``, sealed to the edge's box key) and the
warrant records of users (``EDGE_HOME/sensors/warrants/*.warrant``, public, authority-signed).
:class:`SensorIngest` checks an upload with an :class:`~crypto.light.EdgeVerifier` (freshness,
alpha, beta, replay) and a replay cache kept in LevelDB, so a restarted edge does not take an
upload again; then it opens the reading with ``a_n`` and seals it as a policy record owned by
the patient's member id, a version-3 PutRecord naming the grant's device, signed with the
edge's key. The bulk, fragments and metadata come from ``ledger.file_sealing.seal_file`` and the
two halves of the dual key from :func:`crypto.light.bridge.seal_for_domain`, the very code an
owner's put uses (``ledger.file_sealing`` and ``ledger.record_metadata`` are pure: crypto and ledger
imports only).

Each refusal is a :class:`SensorRefusal` with a code and is counted in
``iomtshare_sensor_refusals_total{reason}``. Nothing here touches the network: submitting, and
learning the current domain epoch (``node.edge.sensor_epochs``), are the caller's
(``node.edge.sensor_routes``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from crypto.abe import FamePublicKey
from crypto.dual import setup
from crypto.errors import CryptoError, DecryptionError
from crypto.groups import G2Element, Group
from crypto.light import (
    AccessRequest,
    AuthorityPublic,
    EdgeVerifier,
    FreshnessWindow,
    LightError,
    ReplayError,
    StaleMessageError,
    Upload,
    WarrantRecord,
)
from crypto.light.bridge import seal_for_domain
from crypto.light.curve import Point
from crypto.light.errors import AccessDeniedError, WarrantError
from crypto.light.provision import SensorGrant
from crypto.light.user import decrypt_upload
from crypto.policy import Policy, PolicyError, parse
from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey, VerifyKey
from crypto.storage import Fragment
from crypto.tpre import UserPublicKey, encrypt_to_owner
from ledger.content import record_context
from ledger.file_sealing import seal_file
from ledger.keywords import keywords_hash
from ledger.kv import KeyValueStore
from ledger.transactions import PutRecord
from node.edge.sensor_replay import ReplayStore

SENSORS_DIR = "sensors"
GRANTS_DIR = "grants"
WARRANTS_DIR = "warrants"
#: LevelDB directory under the edge's data dir: replay ids and the records made per patient.
STORE_DIR = "sensors"
ACCESS_LIMIT = 100
_RECORD = b"p"
#: The grant and warrant files are read again at most this often (on an unknown patient or user).
REFRESH_SECONDS = 1

logger = logging.getLogger("iomtshare.node.edge.sensors")

REASONS = (
    "malformed", "stale", "replayed", "tampered", "unknown_patient", "not_in_patient_set",
    "unknown_user", "warrant_expired", "warrant_forged", "submit_failed", "device_not_rekeyed",
)


class SensorConfigError(Exception):
    """A grant or warrant file the edge cannot use (does not open, decode or verify)."""


class SensorRefusal(Exception):
    """An upload or access request the edge refuses; ``code`` is one of :data:`REASONS`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True, slots=True)
class NetworkKeys:
    """The FAME public key and the domain key records are sealed under, with its epoch."""

    fame: FamePublicKey
    epoch: int
    domain_key: G2Element


@dataclass(frozen=True, slots=True)
class Converted:
    """A verified upload turned into a signed PutRecord and its storage fragments."""

    temporary_id: bytes
    put: PutRecord
    fragments: tuple[Fragment, ...]


def load_grants(home: Path, box_key: BoxSecretKey, authority: VerifyKey, chain_id: str) -> list[
    SensorGrant
]:
    """Every grant under ``home/sensors/grants``, opened and verified; raises
    :class:`SensorConfigError` naming the first bad file."""
    grants = []
    for path in sorted((home / SENSORS_DIR / GRANTS_DIR).glob("*.grant")):
        try:
            grant = SensorGrant.from_bytes(box_key.unseal(path.read_bytes()))
            grant.verify(authority, chain_id)
        except (OSError, CryptoError) as exc:
            raise SensorConfigError(f"sensor grant {path}: {exc}") from exc
        grants.append(grant)
    return grants


def load_warrants(home: Path) -> list[WarrantRecord]:
    """Every warrant record under ``home/sensors/warrants`` (checked when added)."""
    records = []
    for path in sorted((home / SENSORS_DIR / WARRANTS_DIR).glob("*.warrant")):
        try:
            records.append(WarrantRecord.from_bytes(path.read_bytes()))
        except (OSError, CryptoError) as exc:
            raise SensorConfigError(f"warrant record {path}: {exc}") from exc
    return records


class SensorIngest:
    """Checks sensor uploads and warrant holders' requests; converts uploads into records."""

    def __init__(
        self,
        *,
        loader: Callable[[], tuple[list[SensorGrant], list[WarrantRecord]]],
        authority: VerifyKey,
        chain_id: str,
        edge_key: SigningKey,
        keys: NetworkKeys,
        group: Group,
        storage: tuple[int, int],
        store: KeyValueStore,
        registry: CollectorRegistry,
        window: FreshnessWindow | None = None,
        clock_ms: Callable[[], int],
    ) -> None:
        """``storage`` is the genesis (threshold, size) of the erasure code; ``clock_ms`` the
        edge's clock for ``created_at_ms``. Raises :class:`SensorConfigError` for a grant or
        warrant the authority did not sign."""
        self.window = window or FreshnessWindow()
        self.chain_id, self.edge_key, self.keys = chain_id, edge_key, keys
        self.group, self.params, self.storage = group, setup(group), storage
        self.clock_ms = clock_ms
        self.replay = ReplayStore(store, self.window)
        self.store = store
        self._lock = threading.Lock()
        self._loader, self._authority = loader, authority
        self._loaded_at = 0
        self._install(*loader())
        self.refused = Counter(
            "iomtshare_sensor_refusals", "Sensor uploads and access requests the edge refused",
            ["reason"], registry=registry,
        )
        self.accepted = Counter(
            "iomtshare_sensor_uploads_accepted", "Sensor uploads that passed every check",
            registry=registry,
        )
        self.submitted = Counter(
            "iomtshare_sensor_records_submitted", "Records the edge submitted for sensor patients",
            registry=registry,
        )
        for reason in REASONS:
            self.refused.labels(reason)

    def _install(self, grants: list[SensorGrant], warrants: list[WarrantRecord]) -> None:
        verifier = _verifier(grants, warrants, self._authority, self.window)
        self.policies = _policies(grants)
        self.grants = {grant.temporary_id: grant for grant in grants}
        self.warrants = {record.user: record for record in warrants}
        self.verifier = verifier

    def refresh(self, now: int) -> None:
        """Read the grant and warrant files again (at most once per :data:`REFRESH_SECONDS`),
        so grants the authority adds are served without a restart. A bad file keeps the
        current set (and is logged). Call with the lock held."""
        if now < self._loaded_at + REFRESH_SECONDS:
            return
        self._loaded_at = now
        try:
            self._install(*self._loader())
        except SensorConfigError as exc:
            logger.warning("sensor grants not reloaded: %s", exc)

    def refuse(self, code: str, message: str, status: int = 400) -> SensorRefusal:
        """Count a refusal and return it (to raise)."""
        self.refused.labels(code).inc()
        return SensorRefusal(code, message, status)

    def _refusal(
        self, exc: CryptoError, denied: str, *, unknown_user: bool = False
    ) -> SensorRefusal:
        """The counted refusal for a failed check; ``denied`` names an access denial."""
        if isinstance(exc, StaleMessageError):
            return self.refuse("stale", str(exc))
        if isinstance(exc, ReplayError):
            return self.refuse("replayed", str(exc), 409)
        if isinstance(exc, AccessDeniedError):
            return self.refuse(denied, str(exc), 403)
        if isinstance(exc, WarrantError):
            return self.refuse("unknown_user" if unknown_user else "warrant_forged", str(exc), 403)
        return self.refuse("tampered", f"does not check out: {exc}")

    def verify(self, raw: bytes, now: int) -> tuple[Upload, bytes]:
        """Decode, check and open an upload; remember it (also on disk) as seen.

        Returns the upload and its reading. Raises :class:`SensorRefusal` (counted)."""
        try:
            upload = Upload.from_bytes(raw)
        except CryptoError as exc:
            raise self.refuse("malformed", f"not a lightweight upload: {exc}") from exc
        replay_id = upload.replay_id()
        with self._lock:
            if upload.temporary_id not in self.grants:
                self.refresh(now)
            try:
                self.replay.check(replay_id, upload.timestamp, now)
                verified = self.verifier.accept_upload(upload, now)
                key = self.verifier.patient_key(upload.temporary_id)
                reading = decrypt_upload(key, verified.upload)
            except (LightError, DecryptionError) as exc:
                raise self._refusal(exc, "unknown_patient") from exc
            self.replay.accept(replay_id, upload.timestamp, now)
        self.accepted.inc()
        return upload, reading

    def convert(self, upload: Upload, reading: bytes, keys: NetworkKeys | None = None) -> Converted:
        """Seal a verified reading as a policy record of the patient's member under ``keys``'
        domain epoch (``self.keys``, the genesis', by default; pairings: run it off the event
        loop)."""
        keys = keys or self.keys
        grant = self.grants[upload.temporary_id]
        sealed_file = seal_file(reading, "", *self.storage)
        record_id, coded, metadata = sealed_file.record_id, sealed_file.coded, sealed_file.metadata
        context = record_context(record_id, grant.owner, self.chain_id)
        policy = self.policies[upload.temporary_id]
        sealed = seal_for_domain(
            self.params, keys.fame, keys.domain_key, policy, context,
            metadata.to_bytes(),
        )
        owner_key = UserPublicKey.from_bytes(self.group, grant.owner_tpre_key)
        own_copy = encrypt_to_owner(self.group, owner_key, metadata.to_bytes(), record_id)
        put = PutRecord(
            record_id=record_id, owner=grant.owner, keywords_hash=keywords_hash(()),
            policy=grant.policy, access_limit=ACCESS_LIMIT,
            metadata_ciphertext=own_copy.to_bytes(),
            storage_commitments=coded.commitment.to_bytes(),
            abe_ciphertext=sealed.dual.to_bytes(), domain_epoch=keys.epoch,
            domain_ciphertext=sealed.domain.to_bytes(), created_at_ms=self.clock_ms(),
            device_id=grant.device_id,
        )
        return Converted(upload.temporary_id, put.signed(self.edge_key, self.chain_id),
                         coded.fragments)

    def note_submitted(self, converted: Converted) -> None:
        """Remember the record under its patient (for warrant holders) and count it."""
        key = _RECORD + converted.temporary_id + converted.put.record_id
        self.store.put(key, converted.put.tx_id(), sync=True)
        self.submitted.inc()

    def records_of(self, temporary_id: bytes) -> list[bytes]:
        """Record ids this edge submitted for a patient, in id order."""
        prefix = _RECORD + temporary_id
        return [key[len(prefix):] for key, _ in self.store.iterate(prefix)]

    def authorize(self, raw: bytes, now: int) -> AccessRequest:
        """Check a warrant holder's access request; raises :class:`SensorRefusal` (counted)."""
        try:
            request = AccessRequest.from_bytes(raw)
        except CryptoError as exc:
            raise self.refuse("malformed", f"not an access request: {exc}") from exc
        with self._lock:
            if request.user not in self.warrants or request.temporary_id not in self.grants:
                self.refresh(now)
            warrant = self.warrants.get(request.user)
            try:
                self.replay.check(request.replay_id(), request.timestamp, now)
                if warrant is not None and now > warrant.expiry:
                    raise self.refuse("warrant_expired", "the warrant has expired", 403)
                self.verifier.authorize(request, now)
            except LightError as exc:
                unknown = warrant is None
                raise self._refusal(exc, "not_in_patient_set", unknown_user=unknown) from exc
            self.replay.accept(request.replay_id(), request.timestamp, now)
        return request


def _verifier(
    grants: list[SensorGrant], warrants: list[WarrantRecord], authority: VerifyKey,
    window: FreshnessWindow,
) -> EdgeVerifier:
    points = {grant.authority_point for grant in grants}
    if len(points) > 1:
        raise SensorConfigError("the sensor grants name more than one authority point PK_TA")
    # The verifier checks signatures only; PK_TA matters to patients registering, not here.
    point = next(iter(points)) if points else Point.base_mul(1)
    verifier = EdgeVerifier(AuthorityPublic(point, authority), window)
    try:
        for record in warrants:
            verifier.add_warrant(record)
        for grant in grants:
            verifier.add_patient(grant.patient, grant.key)
    except CryptoError as exc:
        raise SensorConfigError(f"a warrant or patient record does not verify: {exc}") from exc
    return verifier


def _policies(grants: list[SensorGrant]) -> dict[bytes, Policy]:
    try:
        return {grant.temporary_id: parse(grant.policy) for grant in grants}
    except PolicyError as exc:
        raise SensorConfigError(f"a sensor grant's policy does not parse: {exc}") from exc
