"""The edge's sensor path without nodes: every refusal is typed, counted and submits nothing;
a valid reading becomes a policy record of the patient's member that the ledger's content
check accepts and the member can open; replay ids survive a restart; no real identity is in
anything the sensor sends or the edge stores or submits."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import trio
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.testclient import TestClient

from client.sensors import EdgeRefused, post_access, post_upload, save_profile
from crypto import aead
from crypto.dual import DomainSecretKey, deal_domain_key, setup
from crypto.light import FreshnessWindow, Upload, UserCredential
from crypto.light.curve import random_scalar
from crypto.light.patient import encrypt_reading
from crypto.light.user import access_request
from crypto.signing import SigningKey
from crypto.storage import Fragment, StorageCommitment, rebuild
from crypto.tpre import OwnerCiphertext, decrypt_as_owner
from ledger.content import check_put_record
from ledger.genesis import DomainKeys
from ledger.leveldb import LevelDBStore
from ledger.record_metadata import RecordMetadata
from ledger.transactions import PutRecord, RekeyDevice, RotateDomainKey
from node.edge.device_ingest import IngestRefused
from node.edge.proofs import ItemNotFound, Verified, VerifiedTx
from node.edge.sensor_epochs import DomainEpochs, Follow
from node.edge.sensor_grants import SensorConfigError
from node.edge.sensor_ingest import SensorIngest
from node.edge.sensor_routes import sensor_routes
from tests.node.edge.sensor_helpers import (
    PATIENT_REAL_ID,
    USER_REAL_ID,
    SensorEdge,
    provision,
)

READING = b"ecg:" + bytes(range(200))


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> SensorEdge:
    return provision(tmp_path_factory.mktemp("sensor-edge") / "net")


class Harness:
    def __init__(
        self, edge: SensorEdge, ingest: SensorIngest, registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.edge, self.ingest, self.registry = edge, ingest, registry
        self.submitted: list[tuple[PutRecord, list[bytes]]] = []

        async def submit(put: PutRecord, fragments: list[bytes]) -> str:
            self.submitted.append((put, fragments))
            return put.tx_id().hex()

        self.client = TestClient(Starlette(routes=sensor_routes(ingest, submit, clock)))

    def refusals(self, reason: str) -> float:
        value = self.registry.get_sample_value(
            "iomtshare_sensor_refusals_total", {"reason": reason}
        )
        return value or 0.0

    def upload(self, upload: Upload) -> dict[str, object]:
        return post_upload(self.client, "http://testserver", upload)


@pytest.fixture
def harness(edge: SensorEdge) -> Iterator[Harness]:
    registry = CollectorRegistry()
    made = Harness(edge, edge.ingest(registry=registry), registry)
    with made.client:
        yield made


def refused(harness: Harness, upload: Upload, reason: str, status: int) -> None:
    before, submitted = harness.refusals(reason), len(harness.submitted)
    with pytest.raises(EdgeRefused) as caught:
        harness.upload(upload)
    assert (caught.value.code, caught.value.status) == (reason, status)
    assert harness.refusals(reason) == before + 1
    assert len(harness.submitted) == submitted


def test_a_reading_becomes_a_record_of_the_patient_member(harness: Harness) -> None:
    edge = harness.edge
    upload = encrypt_reading(edge.patient, READING, int(time.time()))
    answer = harness.upload(upload)
    [(put, fragments)] = harness.submitted
    assert answer["record_id"] == put.record_id.hex()
    assert (put.owner, put.device_id, put.encoding_version) == (
        edge.owner.member_id, edge.device_id, 3
    )
    put.verify_signature(edge.edge_key.verify_key, edge.network.chain_id)
    check_put_record(put, put.tx_id(), edge.network.chain_id, edge.network.genesis.domain)
    # The member opens its own copy of the metadata, then the bulk from the fragments.
    sealed = OwnerCiphertext.from_bytes(edge.group, put.metadata_ciphertext)
    metadata = RecordMetadata.from_bytes(
        decrypt_as_owner(edge.owner.tpre_secret, sealed, put.record_id)
    )
    commitment = StorageCommitment.from_bytes(put.storage_commitments)
    bulk = rebuild(commitment, [Fragment.from_bytes(f) for f in fragments]).data
    assert aead.open_sealed(metadata.dek, bulk, put.record_id) == READING
    assert harness.ingest.records_of(edge.patient.temporary_id) == ([put.record_id], False)
    assert harness.registry.get_sample_value("iomtshare_sensor_records_submitted_total") == 1


def test_replayed_stale_tampered_unknown_and_malformed_uploads_are_refused(
    harness: Harness,
) -> None:
    edge, now = harness.edge, int(time.time())
    upload = encrypt_reading(edge.patient, READING, now)
    harness.upload(upload)
    refused(harness, upload, "replayed", 409)
    refused(harness, encrypt_reading(edge.patient, READING, now - 3600), "stale", 400)
    refused(harness, encrypt_reading(edge.patient, READING, now + 3600), "stale", 400)
    fresh = encrypt_reading(edge.patient, READING, now)
    flipped = bytes([fresh.ciphertext[0] ^ 1]) + fresh.ciphertext[1:]
    refused(harness, dataclasses.replace(fresh, ciphertext=flipped), "tampered", 400)
    refused(harness, dataclasses.replace(fresh, alpha=bytes(32)), "tampered", 400)
    stranger = dataclasses.replace(edge.patient, secret=random_scalar())
    foreign = encrypt_reading(stranger, READING, now)
    refused(harness, dataclasses.replace(foreign, temporary_id=bytes(32)), "unknown_patient", 403)
    # A key that is not the patient's a_n fails the check values under the patient's id.
    refused(harness, foreign, "tampered", 400)
    before = harness.refusals("malformed")
    answer = harness.client.post("/sensor/uploads", content=b"\x00junk")
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed")
    assert harness.refusals("malformed") == before + 1
    assert len(harness.submitted) == 1


def test_a_replay_after_a_restart_is_refused(edge: SensorEdge, tmp_path: Path) -> None:
    upload = encrypt_reading(edge.patient, READING, int(time.time()))
    store = LevelDBStore(tmp_path / "sensors")
    try:
        first = edge.ingest(store)
        trio.run(first.verify, upload.to_bytes(), int(time.time()))
    finally:
        store.close()
    store = LevelDBStore(tmp_path / "sensors")
    try:
        registry = CollectorRegistry()
        again = Harness(edge, edge.ingest(store, registry), registry)
        with again.client:
            refused(again, upload, "replayed", 409)
    finally:
        store.close()


def test_a_patient_granted_while_running_is_served_without_a_restart(
    edge: SensorEdge, tmp_path: Path
) -> None:
    registry = CollectorRegistry()
    running = Harness(edge, edge.ingest(registry=registry), registry)
    later = edge.add_patient("Another Real Name", [], int(time.time()))
    try:
        with running.client:
            answer = running.upload(encrypt_reading(later, READING, int(time.time())))
        assert answer["temporary_id"] == later.temporary_id.hex()
    finally:
        (edge.edge_home / "sensors" / "grants" / f"{later.temporary_id.hex()}.grant").unlink()


def test_a_bad_grant_file_is_refused_at_start(edge: SensorEdge) -> None:
    bad = edge.edge_home / "sensors" / "grants" / "bad.grant"
    bad.write_bytes(edge.box_key.public_key.seal(b"not a grant"))
    try:
        with pytest.raises(SensorConfigError, match=r"bad\.grant"):
            edge.ingest()
    finally:
        bad.unlink()


def test_replay_ids_are_pruned_once_out_of_the_window(edge: SensorEdge) -> None:
    ingest = edge.ingest()
    now = int(time.time())
    trio.run(ingest.verify, encrypt_reading(edge.patient, READING, now).to_bytes(), now)
    assert ingest.replay.prune(now) == 0
    assert ingest.replay.prune(now + FreshnessWindow().max_age + 1) == 1


def test_warrant_holders_and_every_warrant_refusal(harness: Harness) -> None:
    edge, now = harness.edge, int(time.time())
    ptid = edge.patient.temporary_id
    harness.upload(encrypt_reading(edge.patient, READING, now))
    answer = post_access(harness.client, "http://testserver", edge.user, ptid)
    assert answer["records"] == [harness.submitted[0][0].record_id.hex()]

    def access_refused(credential: UserCredential, reason: str, when: int = now) -> None:
        before = harness.refusals(reason)
        with pytest.raises(EdgeRefused) as caught:
            post_access(harness.client, "http://testserver", credential, ptid, when)
        assert caught.value.code == reason
        assert harness.refusals(reason) == before + 1

    forged = dataclasses.replace(edge.user, warrant=random_scalar())
    access_refused(forged, "warrant_forged")
    # At an edge whose clock is past the warrant's expiry, a fresh request is refused.
    late = edge.user.expiry + 1
    registry = CollectorRegistry()
    past = Harness(edge, edge.ingest(registry=registry), registry, lambda: late)
    with past.client, pytest.raises(EdgeRefused) as expired:
        post_access(past.client, "http://testserver", edge.user, ptid, late)
    assert expired.value.code == "warrant_expired"
    assert past.refusals("warrant_expired") == 1
    stranger, _ = edge.authority.register_user("someone else", now + 3600)
    access_refused(stranger, "not_in_patient_set")
    # In a patient's set, but the edge holds no warrant record for the user.
    other = edge.add_patient("Third Real Name", [stranger.user], now)
    try:
        registry = CollectorRegistry()
        fresh = Harness(edge, edge.ingest(registry=registry), registry)
        with fresh.client, pytest.raises(EdgeRefused) as caught:
            post_access(fresh.client, "http://testserver", stranger, other.temporary_id)
        assert caught.value.code == "unknown_user"
        assert fresh.refusals("unknown_user") == 1
    finally:
        (edge.edge_home / "sensors" / "grants" / f"{other.temporary_id.hex()}.grant").unlink()
    access_refused(edge.user, "stale", now - 3600)
    request = access_request(edge.user, ptid, now)
    assert harness.client.post("/sensor/access", content=request.to_bytes()).status_code == 200
    again = harness.client.post("/sensor/access", content=request.to_bytes())
    assert again.json()["error"]["code"] == "replayed"


def test_no_real_identity_is_sent_stored_or_submitted(harness: Harness, tmp_path: Path) -> None:
    edge = harness.edge
    store = LevelDBStore(tmp_path / "sensors")
    registry = CollectorRegistry()
    try:
        seen = Harness(edge, edge.ingest(store, registry), registry)
        sent: list[bytes] = []
        with seen.client:
            for _ in range(3):
                upload = encrypt_reading(edge.patient, READING, int(time.time()))
                sent.append(upload.to_bytes())
                seen.upload(upload)
            request = access_request(edge.user, edge.patient.temporary_id, int(time.time()))
            sent.append(request.to_bytes())
            seen.client.post("/sensor/access", content=request.to_bytes())
        stored = [k + v for k, v in store.iterate(b"")]
    finally:
        store.close()
    profile = tmp_path / "profile"
    save_profile(profile, edge.patient, "http://edge.example:8080")
    written = [p.read_bytes() for p in profile.iterdir()]
    edge_files = [p.read_bytes() for p in (edge.edge_home / "sensors").rglob("*") if p.is_file()]
    submitted = [put.to_bytes() + b"".join(fragments) for put, fragments in seen.submitted]
    assert len(submitted) == 3
    assert stored
    assert edge_files
    everything = b"".join(sent + stored + written + edge_files + submitted)
    for real in (PATIENT_REAL_ID, USER_REAL_ID):
        for form in (real.encode(), real.encode("utf-16-le"), real.encode().hex().encode()):
            assert form not in everything
    # Inside the seals too: the grants as the edge opens them name no one.
    opened = [edge.box_key.unseal(sealed) for sealed in edge.stored_grants]
    for real in (PATIENT_REAL_ID, USER_REAL_ID):
        assert all(real.encode() not in grant for grant in opened)


def rotation_of(edge: SensorEdge, epoch: int) -> RotateDomainKey:
    """A rotation to ``epoch`` signed by the genesis authority (shares not sealed: the edge
    checks the signature and the ``VK_i``, not the shares)."""
    genesis, params = edge.network.genesis, setup(edge.group)
    secret = DomainSecretKey.generate(params)
    dealing, _ = deal_domain_key(params, secret, genesis.threshold, genesis.size)
    keys = DomainKeys(
        epoch, genesis.threshold, secret.public_key(params).to_bytes(),
        tuple(bytes(dealing.verification_key(i)) for i in range(1, genesis.size + 1)),
    )
    return RotateDomainKey(keys, (), "scheduled", 1).signed(edge.authority_key, genesis.chain_id)


class FakeProofs:
    """A proof fetcher whose nodes report ``rotation`` (none: the genesis epoch) and the
    device's latest ReKey under ``rekeyed_epoch``."""

    def __init__(self, device_id: bytes) -> None:
        self.rotation: RotateDomainKey | None = None
        self.device_id, self.rekeyed_epoch = device_id, 0
        self.asked = 0

    async def fetch_rotation(self) -> VerifiedTx:
        self.asked += 1
        if self.rotation is None:
            raise ItemNotFound("no rotation")
        return VerifiedTx(self.rotation, self.rotation.tx_id(), Verified(1, bytes(32), 0))

    async def fetch_device(self, device_id: bytes, *, latest_rekey: bool = False) -> VerifiedTx:
        assert (device_id, latest_rekey) == (self.device_id, True)
        rekey = RekeyDevice(device_id, self.rekeyed_epoch, b"", 1)
        return VerifiedTx(rekey, rekey.tx_id(), Verified(1, bytes(32), 0))


def test_records_follow_a_rotation_the_nodes_report(edge: SensorEdge) -> None:
    ingest, proofs = edge.ingest(), FakeProofs(edge.device_id)
    genesis = edge.network.genesis
    epochs = DomainEpochs(ingest.keys, Follow(proofs, genesis, edge.group), refresh_seconds=3600)
    submitted: list[PutRecord] = []

    async def submit(put: PutRecord, fragments: list[bytes]) -> str:
        current = 0 if proofs.rotation is None else proofs.rotation.domain.epoch
        if put.domain_epoch != current:  # as the nodes do
            raise IngestRefused("refused", f"record under domain epoch {put.domain_epoch}")
        submitted.append(put)
        return put.tx_id().hex()

    client = TestClient(Starlette(routes=sensor_routes(ingest, submit, epochs=epochs)))
    with client:
        post_upload(
            client, "http://testserver", encrypt_reading(edge.patient, READING, int(time.time()))
        )
        assert [put.domain_epoch for put in submitted] == [0]
        assert proofs.asked == 1  # asked once; at the genesis epoch every node says not found

        proofs.rotation = rotation_of(edge, 1)
        proofs.rekeyed_epoch = 1
        # The cached epoch is stale: the nodes refuse, the edge asks again, seals under epoch 1.
        answer = post_upload(
            client, "http://testserver", encrypt_reading(edge.patient, READING, int(time.time()))
        )
        assert [put.domain_epoch for put in submitted] == [0, 1]
        put = submitted[-1]
        assert answer["record_id"] == put.record_id.hex()
        check_put_record(put, put.tx_id(), genesis.chain_id, proofs.rotation.domain)
        assert proofs.asked == 2

        # Rotated again but the device is not rekeyed: refused typed on the retry, not sent.
        proofs.rotation = rotation_of(edge, 2)
        with pytest.raises(EdgeRefused) as caught:
            post_upload(client, "http://testserver",
                        encrypt_reading(edge.patient, READING, int(time.time())))
        assert (caught.value.code, caught.value.status) == ("device_not_rekeyed", 409)
        assert len(submitted) == 2

        # A rotation the authority did not sign is not followed.
        forged = rotation_of(edge, 3).signed(SigningKey.generate(), genesis.chain_id)
        proofs.rotation = forged
        assert trio.run(partial(epochs.current, force=True)).epoch == 2


def test_a_sensor_whose_device_is_not_rekeyed_is_refused_typed(edge: SensorEdge) -> None:
    registry = CollectorRegistry()
    ingest, proofs = edge.ingest(registry=registry), FakeProofs(edge.device_id)
    proofs.rotation = rotation_of(edge, 1)  # rotated, but the device's ReKey is still epoch 0
    follow = Follow(proofs, edge.network.genesis, edge.group)
    submitted: list[PutRecord] = []

    async def submit(put: PutRecord, fragments: list[bytes]) -> str:
        submitted.append(put)
        return put.tx_id().hex()

    routes = sensor_routes(ingest, submit, epochs=DomainEpochs(ingest.keys, follow))
    with TestClient(Starlette(routes=routes)) as client, pytest.raises(EdgeRefused) as caught:
        post_upload(client, "http://testserver",
                    encrypt_reading(edge.patient, READING, int(time.time())))
    assert (caught.value.code, caught.value.status) == ("device_not_rekeyed", 409)
    assert "rekey-device" in str(caught.value)
    assert submitted == []
    refusals = registry.get_sample_value(
        "iomtshare_sensor_refusals_total", {"reason": "device_not_rekeyed"}
    )
    assert refusals == 1
