"""The edge's device path: take a device's upload, normalize it, submit it as the device's record.

:meth:`DeviceIngest.ingest` runs for ``POST /devices/{device_id}/uploads``
(:mod:`node.edge.device_routes`). In order, it

1. decodes the :class:`~ledger.device_upload.DeviceUpload` (at most
   :data:`~ledger.device_upload.MAX_UPLOAD_BYTES`; an unsigned version 1 is refused
   ``unsigned_upload``) and checks it names the device of the path;
2. learns the device's RegisterDevice from a consensus node with an inclusion proof checked
   against the edge's own headers (:meth:`~node.edge.proofs.ProofFetcher.fetch_device`),
   verifies the upload's device signature against the device key of that proven registration
   before anything else (``bad_device_signature``: a field changed in transit, or an upload
   built from chain data by someone without the device's secret), and refuses a device
   registered to another edge or an upload for another owner;
3. fetches, the same way, the transaction holding the device's ReKey of its latest epoch, runs
   ``ReEncrypt_ECL`` with it and verifies the C1 proof against (record id, owner, chain)
   (:func:`~ledger.device_upload.device_put_record`);
4. re-encodes the bulk data into the genesis' ``n`` fragments and checks they give the
   commitment the device sealed into the record;
5. signs the PutRecord version 3 with the edge's node key and submits it to a consensus node
   over :mod:`node.edge.submit`.

Before sending, it writes the upload (the signed PutRecord and the fragments) to the edge's
LevelDB (:mod:`node.edge.pending_uploads`). It answers once a node accepted the transaction. In
the background it then waits until the record is committed (a proven fetch of the transaction)
and hands the fragments over (:mod:`node.edge.upload_finisher`), writing each move of the state,
which ``GET /devices/{id}/uploads/{record_id}`` reads. After a restart the finisher picks up
every upload left open. Each refusal is an :class:`IngestRefused` with a
code, counted in ``iomtshare_edge_device_uploads_refused_total{reason}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import trio
from prometheus_client import CollectorRegistry, Counter

from crypto.dual import ReKey, setup
from crypto.errors import DecodeError, VerificationError
from crypto.groups import Group
from crypto.signing import SigningKey
from crypto.storage import encode
from ledger.device_upload import (
    MAX_UPLOAD_BYTES,
    DeviceUpload,
    device_put_record,
)
from ledger.errors import StoreError
from ledger.genesis import Genesis
from ledger.kv import KeyValueStore, MemoryStore
from ledger.transactions import PutRecord, RegisterDevice, RekeyDevice
from node.edge.pending_uploads import PendingUpload, PendingUploads, UploadStatus
from node.edge.proofs import ItemNotFound, ProofError, VerifiedTx
from node.edge.submit import SubmitRefused
from node.edge.upload_finisher import Submitter, TxProofs, UploadFinisher, wall_ms

logger = logging.getLogger("iomtshare.node.edge.devices")

#: Open uploads (on disk, not yet stored or failed) at once; more are refused ``busy``.
MAX_IN_FLIGHT = 64
#: How long a new upload is followed closely before the finisher's passes take it over.
COMMIT_TIMEOUT_SECONDS = 120.0
#: How long an unconfirmed (503) upload is only watched before it is resent to learn its fate.
RESUBMIT_WINDOW_MS = 300_000
#: Every refusal code, with its HTTP status.
REFUSALS = {
    "too_large": 413,
    "malformed": 400,
    "unsigned_upload": 400,
    "bad_device_signature": 403,
    "unknown_device": 404,
    "wrong_edge": 403,
    "wrong_owner": 403,
    "bad_ciphertext": 400,
    "bad_proof": 422,
    "bad_bulk": 400,
    "refused": 409,
    "busy": 503,
    "unavailable": 503,
}


class IngestRefused(Exception):
    """An upload the edge does not submit; ``code`` is a key of :data:`REFUSALS`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = REFUSALS[code]


class DeviceProofs(TxProofs, Protocol):
    async def fetch_device(self, device_id: bytes, *, latest_rekey: bool = False) -> VerifiedTx:
        ...


class DeviceIngest:
    """See the module docstring. :meth:`run` must be running for uploads to finish."""

    def __init__(
        self,
        genesis: Genesis,
        peer_id: str,
        node_key: SigningKey,
        group: Group,
        proofs: DeviceProofs,
        submitter: Submitter,
        registry: CollectorRegistry | None = None,
        *,
        commit_timeout: float = COMMIT_TIMEOUT_SECONDS,
        store: KeyValueStore | None = None,
        resubmit_window_ms: int = RESUBMIT_WINDOW_MS,
        clock_ms: Callable[[], int] = wall_ms,
    ) -> None:
        """``store`` keeps the uploads (a memory store if none: nothing survives a restart)."""
        self._genesis = genesis
        self._peer_id = peer_id
        self._key = node_key
        self._params = setup(group)
        self._proofs = proofs
        self._submitter = submitter
        self._commit_timeout = commit_timeout
        self._clock_ms = clock_ms
        self.uploads = PendingUploads(store if store is not None else MemoryStore())
        self.finisher = UploadFinisher(
            self.uploads, proofs, submitter, window_ms=resubmit_window_ms, clock_ms=clock_ms
        )
        #: Refusals by code.
        self.refused: dict[str, int] = {}
        self._nursery: trio.Nursery | None = None
        self._refused_counter = Counter(
            "iomtshare_edge_device_uploads_refused",
            "Device uploads the edge refused, by reason.",
            ["reason"],
            registry=registry,
        )
        self._accepted_counter = Counter(
            "iomtshare_edge_device_uploads_accepted",
            "Device uploads the edge submitted to the consensus nodes.",
            registry=registry,
        )

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Follow new uploads in the background until cancelled (``finisher.run``, started
        beside this, takes those left open before a restart or past their commit timeout)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def ingest(self, device_id: bytes, body: bytes) -> PendingUpload:
        """Check and submit ``body``; raises :class:`IngestRefused`."""
        try:
            state = await self._ingest(device_id, body)
        except IngestRefused as exc:
            self.count_refusal(exc, device_id)
            raise
        self._accepted_counter.inc()
        return state

    def count_refusal(self, exc: IngestRefused, device_id: bytes) -> None:
        """Count and log a refusal (the routes call this for one made while reading)."""
        self.refused[exc.code] = self.refused.get(exc.code, 0) + 1
        self._refused_counter.labels(reason=exc.code).inc()
        logger.info(
            "device upload refused device=%s reason=%s: %s",
            device_id.hex()[:16], exc.code, exc.message,
        )

    async def _ingest(self, device_id: bytes, body: bytes) -> PendingUpload:
        if len(body) > MAX_UPLOAD_BYTES:
            raise IngestRefused("too_large", f"{len(body)} bytes, at most {MAX_UPLOAD_BYTES}")
        upload = _decode(body)
        if upload.device_id != device_id:
            raise IngestRefused("malformed", "the upload names another device than the path")
        registration = (await self._device_tx(device_id, latest_rekey=False)).transaction
        assert isinstance(registration, RegisterDevice)  # fetch_device checked the type
        chain_id = self._genesis.chain_id
        try:
            upload.check_signature(self._params, registration.device_key, chain_id)
        except (DecodeError, VerificationError) as exc:
            raise IngestRefused("bad_device_signature", str(exc)) from exc
        if registration.edge != self._peer_id:
            raise IngestRefused(
                "wrong_edge", f"the device is registered to edge {registration.edge}, not this one"
            )
        if upload.owner != registration.owner:
            raise IngestRefused("wrong_owner", "the upload names another owner than the device's")
        rekey_tx = (await self._device_tx(device_id, latest_rekey=True)).transaction
        assert isinstance(rekey_tx, RegisterDevice | RekeyDevice)
        try:
            rekey = ReKey.from_bytes(self._params, rekey_tx.rekey)
            put = device_put_record(
                self._params, upload, rekey, rekey_tx.domain_epoch, chain_id
            )
        except DecodeError as exc:
            raise IngestRefused("bad_ciphertext", f"the device ciphertext: {exc}") from exc
        except VerificationError as exc:
            raise IngestRefused("bad_proof", str(exc)) from exc
        try:
            coded = encode(upload.bulk, self._genesis.threshold, self._genesis.size)
        except ValueError as exc:
            raise IngestRefused("bad_bulk", str(exc)) from exc
        if coded.commitment.to_bytes() != upload.storage_commitment:
            raise IngestRefused("bad_bulk", "the bulk data does not give the sealed commitment")
        signed = put.signed(self._key, chain_id)
        return await self.submit_signed(signed, [f.to_bytes() for f in coded.fragments])

    async def submit_signed(self, put: PutRecord, fragments: list[bytes]) -> PendingUpload:
        """Submit a device record this edge signed; once it commits, store its fragments in
        the background. Raises :class:`IngestRefused` (busy, unavailable, refused). The
        sensor path (:mod:`node.edge.sensor_routes`) submits through this too."""
        if self._nursery is None or self.uploads.open_count() >= MAX_IN_FLIGHT:
            raise IngestRefused("busy", "the edge is finishing too many uploads; retry")
        raw, tx_id = put.to_bytes(), put.tx_id()
        known = self.uploads.get(put.record_id)
        if known is not None and not known.done:
            if known.tx_id != tx_id:
                raise IngestRefused("refused", "another upload of this record is under way")
            if known.phase is not UploadStatus.UNCONFIRMED:
                return known  # the same upload again: it is already under way
            if self.finisher.busy(put.record_id):  # the finisher is checking it right now
                raise IngestRefused("busy", "the edge is checking this upload; retry")
        if known is not None and known.phase is UploadStatus.STORED and known.tx_id == tx_id:
            return known  # the same upload again, already finished
        now = self._clock_ms()
        try:
            upload = await self.uploads.save(PendingUpload(
                put.device_id, put.record_id, tx_id, put.domain_epoch, UploadStatus.SUBMITTED,
                None, 0, "", now, now, raw, tuple(fragments),
            ))  # on disk before anything is sent
        except StoreError as exc:
            raise IngestRefused("unavailable", f"the edge cannot keep the upload: {exc}") from exc
        self.finisher.hold(put.record_id)  # the resumer leaves it to this task and follow()
        try:
            self.finisher.sent(put.record_id)
            await self._submitter.submit_tx(raw)
        except SubmitRefused as exc:
            self.finisher.release(put.record_id)
            if exc.code == "unavailable":  # a node may have taken it: watch, never resend
                await self.uploads.move(upload, UploadStatus.UNCONFIRMED, now, reason=str(exc))
                raise IngestRefused("unavailable", f"no consensus node took it: {exc}") from exc
            self.finisher.discard(put.record_id)
            if known is None:
                await self.uploads.forget(put.record_id)
            else:  # what the edge knew before this attempt stays as it was
                await self.uploads.save(known)
            if exc.code == "busy":  # nothing was kept anywhere: the device sends it again later
                raise IngestRefused("busy", f"the consensus nodes are busy: {exc}") from exc
            raise IngestRefused("refused", f"the consensus nodes refused it: {exc}") from exc
        except BaseException:  # cancelled or broken mid-send: the resumer finishes it
            self.finisher.release(put.record_id)
            raise
        self._nursery.start_soon(self.finisher.follow, put.record_id, self._commit_timeout)
        return upload

    def upload(self, record_id: bytes) -> PendingUpload | None:
        """The state of an upload of this edge, from its store."""
        return self.uploads.get(record_id)

    async def _device_tx(self, device_id: bytes, *, latest_rekey: bool) -> VerifiedTx:
        try:
            return await self._proofs.fetch_device(device_id, latest_rekey=latest_rekey)
        except ItemNotFound as exc:
            message = f"no registered device {device_id.hex()}"
            raise IngestRefused("unknown_device", message) from exc
        except ProofError as exc:
            message = f"cannot learn the device's registration: {exc}"
            raise IngestRefused("unavailable", message) from exc


def _decode(body: bytes) -> DeviceUpload:
    """``body`` as a signed upload; raises :class:`IngestRefused` (``unsigned_upload`` for a
    well-formed version 1, ``malformed`` for anything else)."""
    try:
        return DeviceUpload.from_bytes(body)
    except DecodeError as exc:
        try:
            DeviceUpload.version_1_fields(body)
        except DecodeError:
            raise IngestRefused("malformed", f"not a device upload: {exc}") from exc
        raise IngestRefused(
            "unsigned_upload",
            "a version 1 upload carries no device signature; the device must send version 2",
        ) from exc
