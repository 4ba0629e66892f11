"""A sensor's resend after the edge refused its upload: welcome when nothing was sent, refused
as a replay when a node may hold the record; the grant and reload behaviour of the ingest; and
paging ``/sensor/access``."""

from __future__ import annotations

import dataclasses
import threading
import time
from functools import partial

import httpx
import pytest
import trio
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.testclient import TestClient

from client.sensors import EdgeRefused, post_access, post_upload
from crypto.light.patient import encrypt_reading
from ledger.transactions import PutRecord
from node.edge.device_ingest import IngestRefused
from node.edge.proofs import ProofError, VerifiedTx
from node.edge.sensor_epochs import DomainEpochs, Follow
from node.edge.sensor_grants import GRANTS_DIR, SENSORS_DIR
from node.edge.sensor_ingest import PAGE_MAX, SensorIngest
from node.edge.sensor_routes import sensor_routes
from tests.node.edge.sensor_helpers import SensorEdge, provision
from tests.node.edge.test_sensor_ingest import FakeProofs, rotation_of

READING = b"ecg:" + bytes(range(100))
URL = "http://testserver"


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> SensorEdge:
    return provision(tmp_path_factory.mktemp("sensor-retry") / "net")


class Node:
    """The edge's submit: fails with ``failure`` (once set), else takes the record."""

    def __init__(self) -> None:
        self.failure: Exception | None = None
        self.taken: list[PutRecord] = []

    async def submit(self, put: PutRecord, fragments: list[bytes]) -> str:
        if self.failure is not None:
            raise self.failure
        self.taken.append(put)
        return put.tx_id().hex()


@pytest.fixture
def node() -> Node:
    return Node()


def client_for(ingest: SensorIngest, node: Node, epochs: DomainEpochs | None = None) -> TestClient:
    return TestClient(Starlette(routes=sensor_routes(ingest, node.submit, epochs=epochs)))


@pytest.mark.parametrize(("failure", "resend_taken"), [
    # Nothing reached a node: the sensor's resend is taken.
    (IngestRefused("busy", "the edge is finishing too many uploads; retry"), True),
    (IngestRefused("refused", "the consensus nodes refused it"), True),
    # A node may hold the record: the resend is a replay.
    (IngestRefused("unavailable", "no consensus node took it"), False),
    (RuntimeError("the connection broke mid-send"), False),
])
def test_a_resend_after_submit_failed_is_taken_only_if_nothing_was_sent(
    edge: SensorEdge, node: Node, failure: Exception, resend_taken: bool
) -> None:
    upload = encrypt_reading(edge.patient, READING, int(time.time()))
    with client_for(edge.ingest(), node) as client:
        node.failure = failure
        with pytest.raises(EdgeRefused) as caught:
            post_upload(client, URL, upload)
        assert (caught.value.code, caught.value.status) == ("submit_failed", 503)
        node.failure = None
        if resend_taken:
            answer = post_upload(client, URL, upload)  # the same bytes again
            assert [put.record_id.hex() for put in node.taken] == [answer["record_id"]]
        with pytest.raises(EdgeRefused) as again:
            post_upload(client, URL, upload)
        assert (again.value.code, again.value.status) == ("replayed", 409)
    assert len(node.taken) == int(resend_taken)


class DownProofs(FakeProofs):
    """No node proves the device's ReKey (until ``down`` is cleared)."""

    down = True

    async def fetch_device(self, device_id: bytes, *, latest_rekey: bool = False) -> VerifiedTx:
        if self.down:
            raise ProofError("no node answered")
        return await super().fetch_device(device_id, latest_rekey=latest_rekey)


def test_a_device_not_rekeyed_or_unproven_leaves_the_upload_to_be_sent_again(
    edge: SensorEdge, node: Node
) -> None:
    ingest, proofs = edge.ingest(), DownProofs(edge.device_id)
    proofs.rotation = rotation_of(edge, 1)
    epochs = DomainEpochs(ingest.keys, Follow(proofs, edge.network.genesis, edge.group))
    upload = encrypt_reading(edge.patient, READING, int(time.time()))
    with client_for(ingest, node, epochs) as client:
        with pytest.raises(EdgeRefused) as caught:
            post_upload(client, URL, upload)
        assert (caught.value.code, caught.value.status) == ("submit_failed", 503)
        proofs.down = False  # the nodes answer: the device's ReKey is still for epoch 0
        with pytest.raises(EdgeRefused) as caught:
            post_upload(client, URL, upload)
        assert (caught.value.code, caught.value.status) == ("device_not_rekeyed", 409)
        proofs.rekeyed_epoch = 1  # the authority rekeyed it; the sensor sends the same upload
        answer = post_upload(client, URL, upload)
    [put] = node.taken
    assert (answer["record_id"], put.domain_epoch) == (put.record_id.hex(), 1)


def test_two_identical_uploads_at_once_do_not_both_pass(edge: SensorEdge) -> None:
    ingest = edge.ingest()
    upload = encrypt_reading(edge.patient, READING, int(time.time())).to_bytes()
    taken: list[PutRecord] = []

    async def main() -> list[int]:
        entered, release = trio.Event(), trio.Event()

        async def submit(put: PutRecord, fragments: list[bytes]) -> str:
            entered.set()
            await release.wait()
            taken.append(put)
            return put.tx_id().hex()

        app = Starlette(routes=sensor_routes(ingest, submit))
        statuses: list[int] = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=URL) as client:

            async def post() -> None:
                answer = await client.post("/sensor/uploads", content=upload)
                statuses.append(answer.status_code)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(post)
                await entered.wait()  # the first is being submitted
                await post()  # the second copy meanwhile
                release.set()
        return statuses

    assert trio.run(main) == [409, 200]
    assert len(taken) == 1


def test_a_grant_removed_while_an_upload_is_in_flight_does_not_break_it(
    edge: SensorEdge,
) -> None:
    later = edge.add_patient("Removed Soon", [], int(time.time()))
    path = edge.edge_home / SENSORS_DIR / GRANTS_DIR / f"{later.temporary_id.hex()}.grant"
    ingest, now = edge.ingest(), int(time.time())
    try:
        accepted = trio.run(ingest.verify, encrypt_reading(later, READING, now).to_bytes(), now)
    finally:
        path.unlink()
    trio.run(ingest.refresh, now + 10)  # the grant is gone from the edge
    assert later.temporary_id not in ingest.grants
    converted = ingest.convert(accepted)
    assert converted.put.device_id == edge.device_id
    # A new upload of that patient is now refused typed.
    node = Node()
    with client_for(ingest, node) as client, pytest.raises(EdgeRefused) as caught:
        post_upload(client, URL, encrypt_reading(later, READING, int(time.time())))
    assert (caught.value.code, caught.value.status) == ("unknown_patient", 403)


@pytest.fixture
def counted(edge: SensorEdge) -> tuple[SensorIngest, list[int]]:
    ingest = edge.ingest()
    threads: list[int] = []
    loader = ingest._loader

    def counting() -> object:
        threads.append(threading.get_ident())
        return loader()

    ingest._loader = counting  # type: ignore[assignment]
    return ingest, threads


def test_unknown_patients_reload_the_grants_only_when_the_files_changed(
    edge: SensorEdge, counted: tuple[SensorIngest, list[int]]
) -> None:
    ingest, loads = counted
    fresh = encrypt_reading(edge.patient, READING, int(time.time()))
    stranger = dataclasses.replace(fresh, temporary_id=bytes(32))
    node = Node()
    with client_for(ingest, node) as client:
        for _ in range(3):
            with pytest.raises(EdgeRefused) as caught:
                post_upload(client, URL, stranger)
            assert caught.value.code == "unknown_patient"
            ingest._looked_at = 0  # as if a second had passed
        assert loads == []  # the files did not change: nothing was unsealed
        later = edge.add_patient("Added Later", [], int(time.time()))
        try:
            answer = post_upload(client, URL, encrypt_reading(later, READING, int(time.time())))
        finally:
            (edge.edge_home / SENSORS_DIR / GRANTS_DIR / f"{later.temporary_id.hex()}.grant"
             ).unlink()
    assert answer["temporary_id"] == later.temporary_id.hex()
    assert len(loads) == 1
    assert loads[0] != threading.get_ident()  # read in a worker thread, not on the event loop


def test_access_answers_pages_of_at_most_the_maximum(edge: SensorEdge, node: Node) -> None:
    ingest = edge.ingest(registry=CollectorRegistry())
    with client_for(ingest, node) as client:
        for i in range(5):
            post_upload(client, URL, encrypt_reading(edge.patient, READING + bytes([i]),
                                                     int(time.time())))
        made = sorted(put.record_id for put in node.taken)
        ptid = edge.patient.temporary_id
        first = post_access(client, URL, edge.user, ptid, limit=2)
        assert first["records"] == [r.hex() for r in made[:2]]
        second = post_access(client, URL, edge.user, ptid, after=bytes.fromhex(first["next"]),
                             limit=2)
        assert second["records"] == [r.hex() for r in made[2:4]]
        last = post_access(client, URL, edge.user, ptid, after=bytes.fromhex(second["next"]))
        assert (last["records"], "next" in last) == ([made[4].hex()], False)
        everything = post_access(client, URL, edge.user, ptid)
        assert everything["records"] == [r.hex() for r in made]
        for bad in (0, PAGE_MAX + 1):
            with pytest.raises(EdgeRefused) as caught:
                post_access(client, URL, edge.user, ptid, limit=bad)
            assert (caught.value.code, caught.value.status) == ("malformed", 400)
        answer = client.post("/sensor/access?after=zz", content=b"")
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed")
    assert ingest.records_of(ptid, limit=10**6) == (made, False)
    assert partial(ingest.records_of, ptid, made[-1])() == ([], False)
