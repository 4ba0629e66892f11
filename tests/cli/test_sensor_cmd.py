"""The sensor path against real nodes (4 in this process, a genesis listing one edge):
``sensor register-user`` and ``sensor register`` provision a patient (a device on chain for the
member and the edge, the sensor's profile, the edge's sealed grant); ``sensor upload`` sends a
reading to the edge's routes, whose record commits owned by the patient's member and submitted
by the edge; a replayed and a stale upload are refused with nothing committed; a warrant holder
lists the patient's records. The edge's routes run here over the edge home's keys, with a
submit that posts to a node (the edge's own submit protocol is tested elsewhere)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cli.main import main
from client import NodeClient
from client.errors import NodeError
from client.sensors import (
    DEVICES_DIR,
    EdgeRefused,
    load_entry,
    load_profile,
    make_upload,
    post_upload,
)
from client.session import Session
from crypto.groups import load_group
from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from ledger.keyfiles import load_secret
from ledger.kv import MemoryStore
from ledger.transactions import PutRecord, decode_transaction
from node.assembly import NodePublicInfo
from node.edge.device_ingest import IngestRefused
from node.edge.proofs import ItemNotFound, Verified, VerifiedTx
from node.edge.sensor_epochs import DomainEpochs, Follow
from node.edge.sensor_grants import GRANTS_DIR, SENSORS_DIR, WARRANTS_DIR
from node.edge.sensor_routes import open_ingest, sensor_routes
from tests.cli.live_cli import make_member, member_id_of, ok_json, run
from tests.client.live_network import LiveNetwork, live_network

REAL_ID = "Maria Example, born 1961-02-03"
DOCTOR = "Dr. Example Doctor"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNetwork]:
    directory = tmp_path_factory.mktemp("sensors") / "net"
    with live_network(directory, 4, threshold=3, edges=1) as running:
        yield running


def edge_client(
    live: LiveNetwork, edge_home: Path, *, follow: bool = False
) -> tuple[TestClient, CollectorRegistry]:
    """The edge's sensor routes over its home; submit posts to node 1 and waits for the
    commit before storing the fragments (nodes take fragments of committed records only); a
    node's refusal comes back as the edge's submit protocol reports it. With ``follow``, the
    routes follow rotations through :class:`NodeEpochs`."""
    network = live.network
    group = load_group("mcl")

    def submit_blocking(put: PutRecord, fragments: list[bytes]) -> str:
        with NodeClient(live.url) as client:
            session = Session(client, group)
            try:
                tx_id = session.submit(put)
            except NodeError as exc:
                raise IngestRefused("refused", str(exc)) from exc
            session.wait_committed(tx_id, 60)
            client.post_fragments(put.record_id, fragments)
        return tx_id

    async def submit(put: PutRecord, fragments: list[bytes]) -> str:
        return await anyio.to_thread.run_sync(submit_blocking, put, fragments)

    registry = CollectorRegistry()
    ingest = open_ingest(
        edge_home, network.genesis, SigningKey(load_secret(edge_home / "node_key")),
        BoxSecretKey(load_secret(edge_home / "box_key")), group, MemoryStore(), registry,
    )
    epochs = None
    if follow:
        source = Follow(NodeEpochs(live.url), network.genesis, group)
        epochs = DomainEpochs(ingest.keys, source, refresh_seconds=3600)
    routes = sensor_routes(ingest, submit, epochs=epochs)
    return TestClient(Starlette(routes=routes)), registry


class NodeEpochs:
    """The rotation and device ReKey node 1's HTTP API names, as the edge's proof fetcher
    returns them (without the inclusion proof: kinds 4 and 5 are proven in
    tests/ledger/test_*proofs.py; the edge still checks the rotation's signature and keys)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _tx(self, api: httpx.Client, tx_id: str) -> VerifiedTx:
        raw = bytes.fromhex(api.get(f"/tx/{tx_id}").json()["raw"])
        return VerifiedTx(decode_transaction(raw), bytes.fromhex(tx_id), Verified(1, b"", 0))

    async def fetch_rotation(self) -> VerifiedTx:
        def get() -> VerifiedTx:
            with httpx.Client(base_url=self.url, timeout=30) as api:
                answer = api.get("/domain-keys").json()
                [entry] = [e for e in answer["epochs"] if e["epoch"] == answer["current"]]
                if entry.get("tx_id") is None:
                    raise ItemNotFound("the genesis epoch is current")
                return self._tx(api, entry["tx_id"])

        return await anyio.to_thread.run_sync(get)

    async def fetch_device(self, device_id: bytes, *, latest_rekey: bool = False) -> VerifiedTx:
        def get() -> VerifiedTx:
            with httpx.Client(base_url=self.url, timeout=30) as api:
                device = api.get(f"/devices/{device_id.hex()}").json()
                latest = device["rekeys"][-1] if latest_rekey else device
                return self._tx(api, latest["tx_id"])

        return await anyio.to_thread.run_sync(get)


def real_id_file(directory: Path, real_id: str) -> str:
    """A file holding ``real_id`` (the commands never take it on the command line)."""
    path = directory / f"real-id-{len(list(directory.glob('real-id-*')))}"
    path.write_text(real_id + "\n", encoding="utf-8")
    return str(path)


def register_sensor(live: LiveNetwork, tmp_path: Path) -> dict[str, Any]:
    """An owner member and a patient for it registered with a sensor profile in
    ``tmp_path/sensor``, the grant (and a doctor's warrant) in the edge's home."""
    network, url = live.network, live.url
    key = str(network.authority_key_path)
    owner_dir = make_member(live, tmp_path / "patient", "owner")
    edge_home = network.directory / network.edges[0].home
    edge_info = tmp_path / "edge.json"
    edge_info.write_text(json.dumps(NodePublicInfo.of_home(edge_home).to_json()))
    user = ok_json("sensor", "register-user", "--real-id-file", real_id_file(tmp_path, DOCTOR),
                   "--out", str(tmp_path / "doctor"), "--key", key)
    made: dict[str, Any] = ok_json(
        "sensor", "register", "--real-id-file", real_id_file(tmp_path, REAL_ID), "--owner",
        owner_dir, "--edge-info",
        str(edge_info), "--edge-url", "http://testserver", "--policy", "role:doctor",
        "--user", user["user"], "--profile-out", str(tmp_path / "sensor"), "--grant-out",
        str(tmp_path / "patient.grant"), "--key", key, "--node", url,
    )
    grants = edge_home / SENSORS_DIR / GRANTS_DIR
    grants.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / "patient.grant", grants / f"{made['temporary_id']}.grant")
    (edge_home / SENSORS_DIR / WARRANTS_DIR).mkdir(exist_ok=True)
    shutil.copy(user["warrant"], edge_home / SENSORS_DIR / WARRANTS_DIR)
    made["owner_dir"], made["user"] = owner_dir, user
    return made


def test_a_sensor_reading_commits_as_the_patient_members_record(
    live: LiveNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    network, url = live.network, live.url
    key = str(network.authority_key_path)
    made = register_sensor(live, tmp_path)
    owner_dir, owner_id = made["owner_dir"], made["owner"]
    edge_home = network.directory / network.edges[0].home
    edge_info = tmp_path / "edge.json"
    assert (owner_id, made["edge"]) == (member_id_of(owner_dir), network.genesis.edges[0].peer_id)
    stranger = json.loads(edge_info.read_text())
    stranger["verify_key"] = "11" * 32
    (tmp_path / "stranger.json").write_text(json.dumps(stranger))
    refused = run("sensor", "register", "--real-id-file", real_id_file(tmp_path, REAL_ID),
                  "--owner", owner_dir,
                  "--edge-info", str(tmp_path / "stranger.json"), "--edge-url", "http://x",
                  "--policy", "role:doctor", "--profile-out", str(tmp_path / "nope"),
                  "--grant-out", str(tmp_path / "nope.grant"), "--key", key, "--node", url)
    assert refused.exit_code == 1
    assert "lists no edge" in refused.output
    assert not (tmp_path / "nope").exists()

    client, registry = edge_client(live, edge_home)
    reading = tmp_path / "reading.bin"
    reading.write_bytes(b"ecg " * 64)
    monkeypatch.setattr("cli.sensor_cmd._http", lambda: client)
    uploaded = ok_json("sensor", "upload", "--profile", str(tmp_path / "sensor"), str(reading))
    record = ok_json("explore", "record", uploaded["record_id"], "--node", url)
    assert record["owner"] == owner_id
    assert record["submitted_by"] == f"edge {made['edge']} for device {made['device_id']}"
    assert record["policy"] == "role:doctor"

    profile = load_profile(tmp_path / "sensor")
    upload = make_upload(profile, b"second reading")
    with TestClient(client.app) as again:
        post_upload(again, "http://testserver", upload)
        for bad, reason in ((upload, "replayed"),
                            (make_upload(profile, b"old", int(time.time()) - 3600), "stale")):
            with pytest.raises(EdgeRefused) as caught:
                post_upload(again, "http://testserver", bad)
            assert caught.value.code == reason
    refusals = {r: registry.get_sample_value("iomtshare_sensor_refusals_total", {"reason": r})
                for r in ("replayed", "stale")}
    assert refusals == {"replayed": 1.0, "stale": 1.0}
    with NodeClient(url) as node:
        committed = {r["record_id"] for r in node.records(owner=owner_id)}
    assert len(committed) == 2  # the two accepted readings only
    assert uploaded["record_id"] in committed

    listed = ok_json("sensor", "access", "--credential", str(tmp_path / "doctor" / "credential"),
                     "--patient", made["temporary_id"], "--edge", "http://testserver")
    assert set(listed["records"]) == committed

    # The real identity is only in the authority's sealed note, which the authority can open.
    light = network.authority_dir / "light"
    written = [p.read_bytes() for root in (light, tmp_path / "sensor", edge_home / SENSORS_DIR)
               for p in root.rglob("*") if p.is_file()]
    assert all(REAL_ID.encode() not in data and DOCTOR.encode() not in data for data in written)
    entry = load_entry(light, bytes.fromhex(made["temporary_id"]))
    assert (entry.real_id, entry.owner.hex()) == (REAL_ID, owner_id)
    assert run("sensor", "upload", "--profile", str(tmp_path / "sensor")).exit_code != 0


def test_sensor_records_follow_rotations_once_the_device_is_rekeyed(
    live: LiveNetwork, tmp_path: Path
) -> None:
    """Runs after the test above (the network's epoch moves on here)."""
    network, url = live.network, live.url
    key = str(network.authority_key_path)
    made = register_sensor(live, tmp_path)
    device_key = network.authority_dir / "light" / DEVICES_DIR / made["temporary_id"]
    client, registry = edge_client(live, network.directory / network.edges[0].home, follow=True)
    profile = load_profile(tmp_path / "sensor")

    def epoch_of(record_id: object) -> int:
        return int(ok_json("explore", "record", str(record_id), "--node", url)["domain_epoch"])

    with client:
        first = post_upload(client, "http://testserver", make_upload(profile, b"epoch 0"))
        assert epoch_of(first["record_id"]) == 0
        # Rotate and rekey the sensor's device: the edge still holds epoch 0, its record is
        # refused by the nodes, it learns epoch 1 and the resealed record commits.
        rotated = ok_json("authority", "rotate-domain-key", "--key", key, "--node", url)
        ok_json("authority", "rekey-device", "--device-key", str(device_key), "--key", key,
                "--node", url)
        second = post_upload(client, "http://testserver", make_upload(profile, b"epoch 1"))
        assert epoch_of(second["record_id"]) == rotated["epoch"]
        # Rotate without rekeying: typed refusal naming the command, nothing committed.
        ok_json("authority", "rotate-domain-key", "--key", key, "--node", url)
        with pytest.raises(EdgeRefused) as caught:
            post_upload(client, "http://testserver", make_upload(profile, b"not rekeyed"))
        assert (caught.value.code, caught.value.status) == ("device_not_rekeyed", 409)
        assert "rekey-device" in str(caught.value)
        ok_json("authority", "rekey-device", "--device-key", str(device_key), "--key", key,
                "--node", url)
        third = post_upload(client, "http://testserver", make_upload(profile, b"epoch 2"))
        assert epoch_of(third["record_id"]) == rotated["epoch"] + 1
    with NodeClient(url) as node:
        committed = {r["record_id"] for r in node.records(owner=made["owner"])}
    assert committed == {first["record_id"], second["record_id"], third["record_id"]}
    assert registry.get_sample_value(
        "iomtshare_sensor_refusals_total", {"reason": "device_not_rekeyed"}
    ) == 1


def test_the_real_identity_is_read_from_stdin_or_a_file_never_the_command_line(
    live: LiveNetwork, tmp_path: Path
) -> None:
    key = str(live.network.authority_key_path)
    light = tmp_path / "light"
    argv = ["sensor", "register-user", "--out", str(tmp_path / "u1"), "--key", key,
            "--light-home", str(light), "--json"]
    piped = CliRunner().invoke(main, argv, input=DOCTOR + "\n", catch_exceptions=False)
    assert piped.exit_code == 0, piped.output
    assert DOCTOR not in piped.output
    from_file = run("sensor", "register-user", "--real-id-file", real_id_file(tmp_path, DOCTOR),
                    "--out", str(tmp_path / "u2"), "--key", key, "--light-home", str(light))
    assert from_file.exit_code == 0, from_file.output
    empty = CliRunner().invoke(main, argv, input="\n", catch_exceptions=False)
    assert empty.exit_code == 2
    assert "one non-empty line" in empty.output
    old = run("sensor", "register-user", "--real-id", DOCTOR, "--out", str(tmp_path / "u3"),
              "--key", key)
    assert old.exit_code == 2
    assert "No such option" in old.output
