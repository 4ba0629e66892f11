"""The edge's sensor path (DESIGN 3.6): lightweight uploads in, policy records for the patient out.

The authority hands the edge one sealed :class:`~crypto.light.provision.SensorGrant` per patient
it serves and the warrant records of users (:mod:`node.edge.sensor_grants`).
:class:`SensorIngest` checks an upload's freshness and replay id against a replay store kept in
LevelDB (so a restarted edge does not take an upload again, and an id can be forgotten when
nothing was sent), alpha and beta with the patient's ``a_n`` from an
:class:`~crypto.light.EdgeVerifier`; then it opens the reading with ``a_n`` and seals it as a
policy record owned by the patient's member id, a version-3 PutRecord naming the grant's
device, signed with the edge's key. The bulk, fragments and metadata come from
``ledger.file_sealing.seal_file`` and the two halves of the dual key from
:func:`crypto.light.bridge.seal_for_domain`, the very code an owner's put uses
(``ledger.file_sealing`` and ``ledger.record_metadata`` are pure: crypto and ledger imports
only).

Each refusal is a :class:`SensorRefusal` with a code and is counted in
``iomtshare_sensor_refusals_total{reason}``. Nothing here touches the network: submitting, and
learning the current domain epoch (``node.edge.sensor_epochs``), are the caller's
(``node.edge.sensor_routes``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import anyio
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
from crypto.signing import SigningKey, VerifyKey
from crypto.storage import Fragment
from crypto.tpre import UserPublicKey, encrypt_to_owner
from ledger.content import record_context
from ledger.file_sealing import seal_file
from ledger.keywords import keywords_hash
from ledger.kv import KeyValueStore
from ledger.transactions import PutRecord
from node.edge.sensor_grants import SensorConfigError
from node.edge.sensor_replay import ReplayStore

#: LevelDB directory under the edge's data dir: replay ids and the records made per patient.
STORE_DIR = "sensors"
ACCESS_LIMIT = 100
_RECORD = b"p"
#: The grant and warrant files are looked at again at most this often (on an unknown patient or
#: user), and read again only when their listing changed.
REFRESH_SECONDS = 1
#: Most record ids one ``/sensor/access`` answer lists (and the default page).
PAGE_MAX = 100

logger = logging.getLogger("iomtshare.node.edge.sensors")

REASONS = (
    "malformed", "stale", "replayed", "tampered", "unknown_patient", "not_in_patient_set",
    "unknown_user", "warrant_expired", "warrant_forged", "submit_failed", "device_not_rekeyed",
)


class SensorRefusal(Exception):
    """An upload or access request the edge refuses; ``code`` is one of :data:`REASONS`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        #: Set when a consensus node may hold the record: the upload's replay id stays used.
        self.maybe_sent = False


@dataclass(frozen=True, slots=True)
class NetworkKeys:
    """The FAME public key and the domain key records are sealed under, with its epoch."""

    fame: FamePublicKey
    epoch: int
    domain_key: G2Element


@dataclass(frozen=True, slots=True)
class Accepted:
    """A checked upload with its reading, and the grant and policy it was checked under (kept,
    so a grant removed meanwhile does not matter to this upload)."""

    upload: Upload
    reading: bytes
    grant: SensorGrant
    policy: Policy


@dataclass(frozen=True, slots=True)
class Converted:
    """A verified upload turned into a signed PutRecord and its storage fragments."""

    temporary_id: bytes
    put: PutRecord
    fragments: tuple[Fragment, ...]


class SensorIngest:
    """Checks sensor uploads and warrant holders' requests; converts uploads into records."""

    def __init__(
        self,
        *,
        loader: Callable[[], tuple[list[SensorGrant], list[WarrantRecord]]],
        stamp: Callable[[], Hashable],
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
        """``loader`` reads the grant and warrant files, ``stamp`` tells whether they changed
        since (both run in a worker thread once serving); ``storage`` is the genesis
        (threshold, size) of the erasure code; ``clock_ms`` the edge's clock for
        ``created_at_ms``. Raises :class:`SensorConfigError` for a grant or
        warrant the authority did not sign."""
        self.window = window or FreshnessWindow()
        self.chain_id, self.edge_key, self.keys = chain_id, edge_key, keys
        self.group, self.params, self.storage = group, setup(group), storage
        self.clock_ms = clock_ms
        self.replay = ReplayStore(store, self.window)
        self.store = store
        self._lock = threading.Lock()
        self._loader, self._stamp, self._authority = loader, stamp, authority
        self._looked_at = 0
        self._loaded = stamp()
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

    async def refresh(self, now: int) -> None:
        """Read the grant and warrant files again if their listing changed (looked at, at most
        once per :data:`REFRESH_SECONDS`), so grants the authority adds are served without a
        restart; the listing and the reading run in a worker thread. A bad file keeps the
        current set (and is logged). Call without the lock."""
        with self._lock:
            if now < self._looked_at + REFRESH_SECONDS:
                return
            self._looked_at = now
        stamp = await anyio.to_thread.run_sync(self._stamp)
        if stamp == self._loaded:
            return
        try:
            loaded = await anyio.to_thread.run_sync(self._loader)
            with self._lock:
                self._install(*loaded)
                self._loaded = stamp
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

    async def verify(self, raw: bytes, now: int) -> Accepted:
        """Decode, check and open an upload; remember it (also on disk) as seen, so a second
        copy is refused while this one is handled. Call :meth:`forget` if nothing was sent.

        Raises :class:`SensorRefusal` (counted)."""
        try:
            upload = Upload.from_bytes(raw)
        except CryptoError as exc:
            raise self.refuse("malformed", f"not a lightweight upload: {exc}") from exc
        if upload.temporary_id not in self.grants:
            await self.refresh(now)
        replay_id = upload.replay_id()
        with self._lock:
            try:
                self.replay.check(replay_id, upload.timestamp, now)  # freshness, then replay
                # decrypt_upload checks alpha and beta; the replay cache is the store's alone
                # (the verifier's own would outlive a forget), so accept_upload is not used.
                key = self.verifier.patient_key(upload.temporary_id)
                reading = decrypt_upload(key, upload)
            except (LightError, DecryptionError) as exc:
                raise self._refusal(exc, "unknown_patient") from exc
            grant = self.grants.get(upload.temporary_id)
            policy = self.policies.get(upload.temporary_id)
            if grant is None or policy is None:  # the verifier and the maps are installed together
                raise self.refuse("unknown_patient", "no grant for this patient", 403)
            self.replay.accept(replay_id, upload.timestamp, now)
        self.accepted.inc()
        return Accepted(upload, reading, grant, policy)

    def forget(self, accepted: Accepted) -> None:
        """Drop a verified upload's replay id: nothing of it was sent, the sensor may resend."""
        self.replay.forget(accepted.upload.replay_id())

    def convert(self, accepted: Accepted, keys: NetworkKeys | None = None) -> Converted:
        """Seal a verified reading as a policy record of the patient's member under ``keys``'
        domain epoch (``self.keys``, the genesis', by default; pairings: run it off the event
        loop)."""
        keys = keys or self.keys
        grant = accepted.grant
        sealed_file = seal_file(accepted.reading, "", *self.storage)
        record_id, coded, metadata = sealed_file.record_id, sealed_file.coded, sealed_file.metadata
        context = record_context(record_id, grant.owner, self.chain_id)
        sealed = seal_for_domain(
            self.params, keys.fame, keys.domain_key, accepted.policy, context,
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
        return Converted(accepted.upload.temporary_id, put.signed(self.edge_key, self.chain_id),
                         coded.fragments)

    def note_submitted(self, converted: Converted) -> None:
        """Remember the record under its patient (for warrant holders) and count it."""
        key = _RECORD + converted.temporary_id + converted.put.record_id
        self.store.put(key, converted.put.tx_id(), sync=True)
        self.submitted.inc()

    def records_of(
        self, temporary_id: bytes, after: bytes = b"", limit: int = PAGE_MAX
    ) -> tuple[list[bytes], bool]:
        """Up to ``limit`` (at most :data:`PAGE_MAX`) record ids this edge submitted for a
        patient, in id order, after ``after``; and whether more follow."""
        prefix = _RECORD + temporary_id
        limit = max(1, min(limit, PAGE_MAX))
        start = prefix + after + b"\x00" if after else None  # the first key past ``after``
        ids: list[bytes] = []
        for key, _ in self.store.iterate(prefix, start=start):
            if len(ids) == limit:
                return ids, True
            ids.append(key[len(prefix):])
        return ids, False

    async def authorize(self, raw: bytes, now: int) -> AccessRequest:
        """Check a warrant holder's access request; raises :class:`SensorRefusal` (counted)."""
        try:
            request = AccessRequest.from_bytes(raw)
        except CryptoError as exc:
            raise self.refuse("malformed", f"not an access request: {exc}") from exc
        if request.user not in self.warrants or request.temporary_id not in self.grants:
            await self.refresh(now)
        with self._lock:
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
