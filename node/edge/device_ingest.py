"""The edge's device path: take a device's upload, normalize it, submit it as the device's record.

:meth:`DeviceIngest.ingest` runs for ``POST /devices/{device_id}/uploads``
(:mod:`node.edge.device_routes`). In order, it

1. decodes the :class:`~ledger.device_upload.DeviceUpload` (at most
   :data:`~ledger.device_upload.MAX_UPLOAD_BYTES`) and checks it names the device of the path;
2. learns the device's RegisterDevice from a consensus node with an inclusion proof checked
   against the edge's own headers (:meth:`~node.edge.proofs.ProofFetcher.fetch_device`), and
   refuses a device registered to another edge or an upload for another owner;
3. fetches, the same way, the transaction holding the device's ReKey of its latest epoch, runs
   ``ReEncrypt_ECL`` with it and verifies the C1 proof against (record id, owner, chain)
   (:func:`~ledger.device_upload.device_put_record`);
4. re-encodes the bulk data into the genesis' ``n`` fragments and checks they give the
   commitment the device sealed into the record;
5. signs the PutRecord version 3 with the edge's node key and submits it to a consensus node
   over :mod:`node.edge.submit`.

It answers once a node accepted the transaction. In the background it then waits until the
record is committed (a proven fetch of the transaction) and hands the fragments over; the
state of each upload is kept (the last :data:`KEPT_UPLOADS`) for
``GET /devices/{id}/uploads/{record_id}``. Each refusal is an :class:`IngestRefused` with a
code, counted in ``iomtshare_edge_device_uploads_refused_total{reason}``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import trio
from prometheus_client import CollectorRegistry, Counter

from crypto.dual import ReKey, setup
from crypto.errors import DecodeError, VerificationError
from crypto.groups import Group
from crypto.signing import SigningKey
from crypto.storage import encode
from ledger.device_upload import MAX_UPLOAD_BYTES, DeviceUpload, device_put_record
from ledger.genesis import Genesis
from ledger.transactions import PutRecord, RegisterDevice, RekeyDevice
from node.edge.proofs import ItemNotFound, ProofError, VerifiedTx
from node.edge.submit import SubmitRefused

logger = logging.getLogger("iomtshare.node.edge.devices")

#: Upload states kept for the status route.
KEPT_UPLOADS = 1024
#: Uploads waiting for their commit at once; more are refused ``busy``.
MAX_IN_FLIGHT = 64
COMMIT_TIMEOUT_SECONDS = 120.0
RETRY_SECONDS = 0.5
#: Every refusal code, with its HTTP status.
REFUSALS = {
    "too_large": 413,
    "malformed": 400,
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


class DeviceProofs(Protocol):
    async def fetch_device(self, device_id: bytes, *, latest_rekey: bool = False) -> VerifiedTx:
        ...

    async def fetch_tx(self, tx_id: bytes) -> VerifiedTx: ...


class Submitter(Protocol):
    async def submit_tx(self, raw: bytes) -> bytes: ...

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int: ...


@dataclass(slots=True)
class UploadState:
    """Where one accepted upload is: ``pending`` (submitted), ``committed``, ``stored``
    (fragments handed over) or ``failed`` (``reason``)."""

    device_id: bytes
    record_id: bytes
    tx_id: bytes
    epoch: int
    status: str = "pending"
    height: int | None = None
    fragments_stored: int = 0
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id.hex(),
            "record_id": self.record_id.hex(),
            "tx_id": self.tx_id.hex(),
            "epoch": self.epoch,
            "status": self.status,
            "height": self.height,
            "fragments_stored": self.fragments_stored,
            "reason": self.reason or None,
        }


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
    ) -> None:
        self._genesis = genesis
        self._peer_id = peer_id
        self._key = node_key
        self._params = setup(group)
        self._proofs = proofs
        self._submitter = submitter
        self._commit_timeout = commit_timeout
        self.uploads: OrderedDict[bytes, UploadState] = OrderedDict()
        #: Refusals by code.
        self.refused: dict[str, int] = {}
        self._in_flight = 0
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
        """Finish accepted uploads in the background until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def ingest(self, device_id: bytes, body: bytes) -> UploadState:
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

    async def _ingest(self, device_id: bytes, body: bytes) -> UploadState:
        if len(body) > MAX_UPLOAD_BYTES:
            raise IngestRefused("too_large", f"{len(body)} bytes, at most {MAX_UPLOAD_BYTES}")
        try:
            upload = DeviceUpload.from_bytes(body)
        except DecodeError as exc:
            raise IngestRefused("malformed", f"not a device upload: {exc}") from exc
        if upload.device_id != device_id:
            raise IngestRefused("malformed", "the upload names another device than the path")
        registration = (await self._device_tx(device_id, latest_rekey=False)).transaction
        assert isinstance(registration, RegisterDevice)  # fetch_device checked the type
        if registration.edge != self._peer_id:
            raise IngestRefused(
                "wrong_edge", f"the device is registered to edge {registration.edge}, not this one"
            )
        if upload.owner != registration.owner:
            raise IngestRefused("wrong_owner", "the upload names another owner than the device's")
        rekey_tx = (await self._device_tx(device_id, latest_rekey=True)).transaction
        assert isinstance(rekey_tx, RegisterDevice | RekeyDevice)
        chain_id = self._genesis.chain_id
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

    async def submit_signed(self, put: PutRecord, fragments: list[bytes]) -> UploadState:
        """Submit a device record this edge signed; once it commits, store its fragments in
        the background. Raises :class:`IngestRefused` (busy, unavailable, refused). The
        sensor path (:mod:`node.edge.sensor_routes`) submits through this too."""
        if self._nursery is None or self._in_flight >= MAX_IN_FLIGHT:
            raise IngestRefused("busy", "the edge is finishing too many uploads; retry")
        try:
            tx_id = await self._submitter.submit_tx(put.to_bytes())
        except SubmitRefused as exc:
            code = "unavailable" if exc.code == "unavailable" else "refused"
            raise IngestRefused(code, f"the consensus nodes refused it: {exc}") from exc
        state = UploadState(put.device_id, put.record_id, tx_id, put.domain_epoch)
        self._keep(state)
        self._in_flight += 1
        self._nursery.start_soon(self._finish, state, fragments)
        return state

    async def _device_tx(self, device_id: bytes, *, latest_rekey: bool) -> VerifiedTx:
        try:
            return await self._proofs.fetch_device(device_id, latest_rekey=latest_rekey)
        except ItemNotFound as exc:
            message = f"no registered device {device_id.hex()}"
            raise IngestRefused("unknown_device", message) from exc
        except ProofError as exc:
            message = f"cannot learn the device's registration: {exc}"
            raise IngestRefused("unavailable", message) from exc

    def _keep(self, state: UploadState) -> None:
        self.uploads[state.record_id] = state
        while len(self.uploads) > KEPT_UPLOADS:
            self.uploads.popitem(last=False)

    async def _finish(self, state: UploadState, fragments: list[bytes]) -> None:
        """Wait for the commit, then hand the fragments over (retrying while nodes lag)."""
        deadline = trio.current_time() + self._commit_timeout
        try:
            while state.height is None:
                try:
                    state.height = (await self._proofs.fetch_tx(state.tx_id)).verified.height
                    state.status = "committed"
                except ProofError as exc:
                    if trio.current_time() > deadline:
                        raise SubmitRefused("not_committed", str(exc)) from exc
                    await trio.sleep(RETRY_SECONDS)
            while state.status != "stored":
                try:
                    stored = await self._submitter.store_fragments(state.record_id, fragments)
                    state.fragments_stored, state.status = stored, "stored"
                except SubmitRefused as exc:
                    if exc.code not in ("unavailable", "not_found", "syncing") or (
                        trio.current_time() > deadline
                    ):
                        raise
                    await trio.sleep(RETRY_SECONDS)
        except SubmitRefused as exc:
            state.status, state.reason = "failed", str(exc)
            logger.warning("device upload failed record=%s reason=%s",
                           state.record_id.hex()[:16], exc)
        finally:
            self._in_flight -= 1
