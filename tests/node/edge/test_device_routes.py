"""The edge's device routes over HTTP (the ingest behind them as in test_device_ingest)."""

from __future__ import annotations

import trio
from starlette.applications import Starlette
from starlette.testclient import TestClient

from ledger.device_upload import MAX_UPLOAD_BYTES
from node.edge.device_routes import device_routes
from node.edge.pending_uploads import PendingUpload, UploadStatus
from tests.node.edge.test_device_ingest import FakeNodes, FakeProofs, World, make_ingest, world

__all__ = ["world"]


def test_uploads_are_bounded_typed_and_followed_by_record(world: World) -> None:
    proofs = FakeProofs(world.registration)
    ingest, registry = make_ingest(world, proofs, FakeNodes(proofs))
    client = TestClient(Starlette(routes=device_routes(ingest)), backend="trio")
    device = world.device.device_id.hex()
    octets = {"content-type": "application/octet-stream"}

    big = client.post(f"/devices/{device}/uploads", content=b"x" * (MAX_UPLOAD_BYTES + 1),
                      headers=octets)
    assert (big.status_code, big.json()["error"]["code"]) == (413, "too_large")
    junk = client.post(f"/devices/{device}/uploads", content=b"junk", headers=octets)
    assert (junk.status_code, junk.json()["error"]["code"]) == (400, "malformed")
    bad_id = client.post("/devices/xyz/uploads", content=b"junk", headers=octets)
    assert bad_id.status_code == 400
    assert ingest.refused == {"too_large": 1, "malformed": 1}
    value = registry.get_sample_value(
        "iomtshare_edge_device_uploads_refused_total", {"reason": "too_large"}
    )
    assert value == 1.0

    upload = world.upload()
    missing = client.get(f"/devices/{device}/uploads/{upload.record_id.hex()}")
    assert missing.status_code == 404
    trio.run(ingest.uploads.save, PendingUpload(
        upload.device_id, upload.record_id, bytes(32), 0, UploadStatus.COMMITTED, 7, 0, "",
        1, 1, b"tx", (b"f",) * 4,
    ))
    shown = client.get(f"/devices/{device}/uploads/{upload.record_id.hex()}").json()
    assert (shown["status"], shown["height"], shown["record_id"]) == (
        "committed", 7, upload.record_id.hex()
    )
    other_device = client.get(f"/devices/{'00' * 32}/uploads/{upload.record_id.hex()}")
    assert other_device.status_code == 404


def test_a_malformed_record_id_is_a_bad_request(world: World) -> None:
    proofs = FakeProofs(world.registration)
    ingest, _ = make_ingest(world, proofs, FakeNodes(proofs))
    client = TestClient(Starlette(routes=device_routes(ingest)), backend="trio")
    answer = client.get(f"/devices/{world.device.device_id.hex()}/uploads/zz")
    assert answer.status_code == 400
