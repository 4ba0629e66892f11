"""HTTP routes of the edge's sensor path, and building its :class:`SensorIngest` from an edge home.

``POST /sensor/uploads`` takes one lightweight upload (its canonical bytes, the body), checks
it (:meth:`SensorIngest.verify`), seals the reading as a policy record of the patient's member
off the event loop, and hands the signed PutRecord and its fragments to ``submit`` (the edge's
submit protocol to consensus nodes). ``200 {record_id, tx_id}`` once ``submit`` returned. The
record is sealed under the domain epoch :class:`~node.edge.sensor_epochs.DomainEpochs` knows,
after checking the sensor's device has a ReKey on chain for it; when the nodes refuse the
record, the edge asks for the current epoch at once and, if it moved on, seals the reading again
under it and submits once more.

An upload's replay id is used from the check on; when the edge refuses it before any node could
hold the record (``device_not_rekeyed``, no ReKey proof, a busy edge, the nodes refusing it) the
id is forgotten, so the sensor's resend is taken; after a submit ``unavailable`` (or any other
failure mid-send) it stays used, since the record may commit.

``POST /sensor/access?after=ID&limit=N`` takes a warrant holder's
:class:`~crypto.light.AccessRequest` and answers ``200 {temporary_id, records[, next]}``: a page
(at most :data:`PAGE_MAX`) of the ids of the records this edge submitted for that patient.
Reading them still takes the network's approval and the reader's attribute key.

Refusals answer ``{"error": {"code", "message"}}`` with the code of :data:`REASONS` (400 bad,
403 not allowed, 409 replayed or ``device_not_rekeyed``, 413 too large, 503 submit failed),
each counted in
``iomtshare_sensor_refusals_total{reason}``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import anyio
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crypto.groups import Group
from crypto.light import FreshnessWindow, WarrantRecord
from crypto.light.provision import SensorGrant
from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey, VerifyKey
from ledger.authority_keys import authority_keys
from ledger.genesis import Genesis
from ledger.keyfiles import KeyFileError, load_secret
from ledger.kv import KeyValueStore
from ledger.leveldb import LevelDBStore
from ledger.transactions import PutRecord
from node.config import BOX_KEY_FILE, ConfigError
from node.edge.device_ingest import IngestRefused
from node.edge.proofs import ProofError
from node.edge.sensor_epochs import DeviceNotRekeyed, DomainEpochs, EpochProofs, Follow
from node.edge.sensor_grants import SensorConfigError, files_stamp, load_grants, load_warrants
from node.edge.sensor_ingest import (
    PAGE_MAX,
    REASONS,
    STORE_DIR,
    Accepted,
    Converted,
    NetworkKeys,
    SensorIngest,
    SensorRefusal,
)
from node.http.errors import BadRequest, error_body
from node.http.params import hex_param, query_int

#: ``async submit(put, fragments) -> tx_id`` (hex), given by the edge's submit protocol.
Submit = Callable[[PutRecord, list[bytes]], Awaitable[str]]
#: Largest request body taken (a reading is small; the upload format allows more).
MAX_BODY = 1 << 20

__all__ = ["MAX_BODY", "REASONS", "SensorMount", "Submit", "open_ingest", "sensor_routes"]


def open_ingest(
    home: Path,
    genesis: Genesis,
    edge_key: SigningKey,
    box_key: BoxSecretKey,
    group: Group,
    store: KeyValueStore,
    registry: CollectorRegistry,
    window: FreshnessWindow | None = None,
) -> SensorIngest:
    """The ingest of the edge in ``home``: its grants and warrants, the genesis authority and
    keys (the genesis domain epoch, which :class:`DomainEpochs` moves on from after a
    rotation), replay ids in ``store``.
    Raises :class:`SensorConfigError`."""
    keys = authority_keys(genesis, group)
    if keys is None:
        raise SensorConfigError("the genesis deals no domain key or FAME key: no policy records")
    authority = VerifyKey(genesis.authority_key)

    def loader() -> tuple[list[SensorGrant], list[WarrantRecord]]:
        return load_grants(home, box_key, authority, genesis.chain_id), load_warrants(home)

    ingest = SensorIngest(
        loader=loader,
        stamp=partial(files_stamp, home),
        authority=authority,
        chain_id=genesis.chain_id,
        edge_key=edge_key,
        keys=NetworkKeys(keys.fame, keys.epoch, keys.dealing.public_key),
        group=group,
        storage=(genesis.threshold, genesis.size),
        store=store,
        registry=registry,
        window=window,
        clock_ms=lambda: int(time.time() * 1000),
    )
    ingest.replay.prune(int(time.time()))
    return ingest


class SensorMount:
    """The sensor path of the edge in ``home``: its ingest over a LevelDB store under ``data``
    (opened by :meth:`routes`, closed by :meth:`close`)."""

    def __init__(self, home: Path, data: Path) -> None:
        self.home, self.data = home, data
        self.store: LevelDBStore | None = None
        self.ingest: SensorIngest | None = None

    def routes(
        self, genesis: Genesis, edge_key: SigningKey, group: Group, registry: CollectorRegistry,
        submit: Submit, proofs: EpochProofs | None = None,
    ) -> list[Route]:
        """The sensor routes, or none if the genesis deals no domain and FAME key; with
        ``proofs`` (the edge's proof fetcher) records follow the domain epoch's rotations,
        without they stay under the genesis epoch. Raises
        :class:`~node.config.ConfigError` for an unreadable box key or a bad grant or warrant
        file (an edge must not start half-provisioned)."""
        if genesis.domain is None or genesis.fame_public_key is None:
            return []
        try:
            box_key = BoxSecretKey(load_secret(self.home / BOX_KEY_FILE))
        except KeyFileError as exc:
            raise ConfigError(str(exc)) from exc
        self.store = LevelDBStore(self.data / STORE_DIR)
        try:
            self.ingest = open_ingest(
                self.home, genesis, edge_key, box_key, group, self.store, registry
            )
        except SensorConfigError as exc:
            raise ConfigError(f"sensor path: {exc}") from exc
        follow = None if proofs is None else Follow(proofs, genesis, group)
        epochs = DomainEpochs(self.ingest.keys, follow)
        return sensor_routes(self.ingest, submit, epochs=epochs)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def sensor_routes(
    ingest: SensorIngest, submit: Submit, clock: Callable[[], float] = time.time,
    epochs: DomainEpochs | None = None,
) -> list[Route]:
    """``POST /sensor/uploads`` and ``POST /sensor/access`` over ``ingest`` and ``submit``,
    sealing under the epoch ``epochs`` knows (the genesis' when ``None``)."""
    if epochs is None:
        epochs = DomainEpochs(ingest.keys)

    async def body(request: Request) -> bytes:
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_BODY:
                raise ingest.refuse("malformed", f"body larger than {MAX_BODY} bytes", 413)
        return data

    async def sealed(accepted: Accepted, keys: NetworkKeys) -> Converted:
        try:
            await epochs.check_device(accepted.grant.device_id, keys.epoch)
        except DeviceNotRekeyed as exc:
            raise ingest.refuse("device_not_rekeyed", str(exc), 409) from exc
        except ProofError as exc:
            message = f"could not learn whether the device is rekeyed: {exc}"
            raise ingest.refuse("submit_failed", message, 503) from exc
        return await anyio.to_thread.run_sync(partial(ingest.convert, accepted, keys))

    def failed(exc: Exception, *, maybe_sent: bool = False) -> SensorRefusal:
        refusal = ingest.refuse("submit_failed", f"could not submit the record: {exc}", 503)
        refusal.maybe_sent = maybe_sent
        return refusal

    async def attempt(accepted: Accepted, keys: NetworkKeys) -> tuple[Converted, str]:
        """Seal and submit once; :class:`IngestRefused` only when no node took the record."""
        converted = await sealed(accepted, keys)
        fragments = [fragment.to_bytes() for fragment in converted.fragments]
        try:
            return converted, await submit(converted.put, fragments)
        except IngestRefused as exc:
            if exc.code == "unavailable":  # a node may hold it: never sealed and sent again
                raise failed(exc, maybe_sent=True) from exc
            raise  # busy, or a definite refusal by the nodes
        except Exception as exc:  # whatever else stopped it, a node may hold the record
            raise failed(exc, maybe_sent=True) from exc

    async def delivered(accepted: Accepted) -> tuple[Converted, str]:
        keys = await epochs.current()
        try:
            return await attempt(accepted, keys)
        except IngestRefused as exc:
            # Refused by the nodes: if a rotation is why, seal again under it, once.
            newer = await epochs.current(force=True) if exc.code == "refused" else keys
            if newer.epoch == keys.epoch:
                raise failed(exc) from exc
            try:
                return await attempt(accepted, newer)  # may refuse device_not_rekeyed
            except IngestRefused as again:
                raise failed(again) from again

    async def upload(request: Request) -> JSONResponse:
        try:
            accepted = await ingest.verify(await body(request), int(clock()))
            try:
                converted, tx_id = await delivered(accepted)
            except SensorRefusal as exc:
                if not exc.maybe_sent:  # nothing went out: the sensor's resend is welcome
                    ingest.forget(accepted)
                raise
            ingest.note_submitted(converted)
        except SensorRefusal as exc:
            return _refused(exc)
        return JSONResponse(
            {"record_id": converted.put.record_id.hex(), "tx_id": tx_id,
             "temporary_id": converted.temporary_id.hex()}
        )

    async def access(request: Request) -> JSONResponse:
        try:
            after, limit = _page(request, ingest)
            granted = await ingest.authorize(await body(request), int(clock()))
        except SensorRefusal as exc:
            return _refused(exc)
        records, more = ingest.records_of(granted.temporary_id, after, limit)
        answer = {"temporary_id": granted.temporary_id.hex(), "records": [r.hex() for r in records]}
        if more:
            answer["next"] = records[-1].hex()
        return JSONResponse(answer)

    return [
        Route("/sensor/uploads", upload, methods=["POST"]),
        Route("/sensor/access", access, methods=["POST"]),
    ]


def _refused(exc: SensorRefusal) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)


def _page(request: Request, ingest: SensorIngest) -> tuple[bytes, int]:
    """``after`` (a record id in hex, default none) and ``limit`` (1..PAGE_MAX, default
    PAGE_MAX) from the query string; a counted ``malformed`` refusal otherwise."""
    try:
        after = request.query_params.get("after")
        start = b"" if after is None else hex_param(after, "after")
        return start, query_int(request, "limit", PAGE_MAX, 1, PAGE_MAX)
    except BadRequest as exc:
        raise ingest.refuse("malformed", exc.message) from exc
