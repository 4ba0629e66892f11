"""Devices against real nodes (in this process, a network whose genesis lists one edge):
``device keygen`` and ``authority register-device`` put a device on chain, ``GET /devices`` and
``GET /devices/{id}`` show it, and a record the edge submits for it (normalized with the ReKey
read from the chain, signed with the edge's key) commits and shows in ``explore record`` as
submitted by that edge for that device; the owner's own signature on it is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from client import NodeClient, NodeError, load_member
from client.device_upload import make_profile, make_upload
from client.devices import load_device_key
from client.session import Session
from crypto.dual import ReKey, setup
from crypto.groups import load_group
from crypto.signing import SigningKey
from ledger.device_upload import device_put_record
from ledger.keyfiles import load_secret
from tests.cli.live_cli import make_member, member_id_of, ok_json, run
from tests.client.live_network import LiveNetwork, live_network

POLICY = "role:doctor"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNetwork]:
    directory = tmp_path_factory.mktemp("devices") / "net"
    with live_network(directory, 4, threshold=3, edges=1) as running:
        yield running


def edge_of(live: LiveNetwork) -> tuple[str, SigningKey]:
    """The genesis edge's peer id and its Ed25519 key (from its home, edge1/node_key)."""
    edge = live.network.edges[0]
    key = SigningKey(load_secret(live.network.directory / edge.home / "node_key"))
    listed = live.network.genesis.edges[0]
    assert listed.verify_key == key.verify_key.raw
    return listed.peer_id, key


def test_register_a_device_and_put_its_record_through_the_edge(
    live: LiveNetwork, tmp_path: Path
) -> None:
    key, url = str(live.network.authority_key_path), live.url
    owner_dir = make_member(live, tmp_path / "patient", "owner")
    owner_id = member_id_of(owner_dir)
    peer_id, edge_key = edge_of(live)

    made = ok_json("device", "keygen", "--out", str(tmp_path / "dev"))
    assert (tmp_path / "dev" / "device_secret_key").stat().st_mode & 0o077 == 0
    device_id = made["device_id"]
    registered = ok_json(
        "authority", "register-device", "--device-key", str(tmp_path / "dev"),
        "--owner", owner_dir, "--edge", peer_id, "--key", key, "--node", url,
    )
    assert (registered["device_id"], registered["owner"], registered["epoch"]) == (
        device_id, owner_id, 0
    )
    assert registered["height"] >= 1

    with httpx.Client(base_url=url, timeout=30) as api:
        shown = api.get(f"/devices/{device_id}").json()
        assert (shown["owner"], shown["edge"], shown["device_key"]) == (
            owner_id, peer_id, made["device_key"]
        )
        assert [r["epoch"] for r in shown["rekeys"]] == [0]
        assert shown["rekeyed_for_current_epoch"] is True
        assert shown["tx_id"] == registered["tx_id"]
        listed = api.get("/devices", params={"owner": owner_id}).json()["devices"]
        assert [d["device_id"] for d in listed] == [device_id]
        assert api.get("/devices", params={"owner": "00" * 32}).json()["devices"] == []
        assert api.get(f"/devices/{'00' * 32}").status_code == 404
        assert api.get("/devices/xyz").status_code == 400
        rekey_hex = shown["rekeys"][0]["rekey"]

    again = run("authority", "register-device", "--device-key", str(tmp_path / "dev"),
                "--owner", owner_dir, "--edge", peer_id, "--key", key, "--node", url)
    assert again.exit_code == 1
    assert "already registered" in again.output
    nowhere = run("authority", "register-device", "--device-key", str(tmp_path / "dev"),
                  "--owner", owner_dir, "--edge", "12D3KooWnotanedge", "--key", key,
                  "--node", url)
    assert nowhere.exit_code == 1
    assert "lists no edge" in nowhere.output

    group = load_group("mcl")
    params = setup(group)
    owner = load_member(owner_dir, group)
    with NodeClient(url) as client:
        session = Session(client, group)
        # The device encrypts under its own key (client.device_upload); the edge's step
        # (ledger.device_upload.device_put_record) normalizes with the ReKey read from the chain.
        device = load_device_key(group, tmp_path / "dev")
        upload = make_upload(group, make_profile(session, device), device, b"reading",
                             policy=POLICY, access_limit=1)
        rekey = ReKey.from_bytes(params, bytes.fromhex(rekey_hex))
        tx = device_put_record(params, upload, rekey, 0, session.chain_id)
        record_id = tx.record_id
        assert tx.owner == owner.member_id
        with pytest.raises(NodeError) as refused:
            session.submit(session.sign(tx, owner.signing_key))
        assert refused.value.status == 400
        assert "not signed by the device's edge" in refused.value.message
        session.wait_committed(session.submit(session.sign(tx, edge_key)))

    shown_record = ok_json("explore", "record", record_id.hex(), "--node", url)
    assert shown_record["submitted_by"] == f"edge {peer_id} for device {device_id}"
    assert shown_record["owner"] == owner_id
    plain = run("explore", "record", record_id.hex(), "--node", url, "--wide")
    assert f"edge {peer_id} for device {device_id}" in plain.output


def test_rekey_device_after_a_rotation(live: LiveNetwork, tmp_path: Path) -> None:
    key, url = str(live.network.authority_key_path), live.url
    owner_dir = make_member(live, tmp_path / "patient", "owner")
    peer_id, _ = edge_of(live)
    device_dir = str(tmp_path / "dev")
    device_id = ok_json("device", "keygen", "--out", device_dir)["device_id"]
    ok_json("authority", "register-device", "--device-key", device_dir, "--owner", owner_dir,
            "--edge", peer_id, "--key", key, "--node", url)
    rotated = ok_json("authority", "rotate-domain-key", "--key", key, "--node", url)
    with httpx.Client(base_url=url, timeout=30) as api:
        stale = api.get(f"/devices/{device_id}").json()
        assert (stale["current_epoch"], stale["rekeyed_for_current_epoch"]) == (
            rotated["epoch"], False
        )
        rekeyed = ok_json("authority", "rekey-device", "--device-key", device_dir, "--key", key,
                          "--node", url)
        assert (rekeyed["device_id"], rekeyed["epoch"]) == (device_id, rotated["epoch"])
        fresh = api.get(f"/devices/{device_id}").json()
    assert [r["epoch"] for r in fresh["rekeys"]] == [rotated["epoch"] - 1, rotated["epoch"]]
    assert fresh["rekeyed_for_current_epoch"] is True
    again = run("authority", "rekey-device", "--device-key", device_dir, "--key", key,
                "--node", url)
    assert again.exit_code == 1
    assert f"already has a ReKey for epoch {rotated['epoch']}" in again.output

    # The device is not touched: the same key and profile, normalized with the new ReKey.
    group = load_group("mcl")
    params = setup(group)
    _, edge_key = edge_of(live)
    newest = fresh["rekeys"][-1]
    with NodeClient(url) as client:
        session = Session(client, group)
        device = load_device_key(group, Path(device_dir))
        upload = make_upload(group, make_profile(session, device), device, b"after", policy=POLICY)
        rekey = ReKey.from_bytes(params, bytes.fromhex(newest["rekey"]))
        tx = device_put_record(params, upload, rekey, newest["epoch"], session.chain_id)
        session.wait_committed(session.submit(session.sign(tx, edge_key)))
    shown = ok_json("explore", "record", tx.record_id.hex(), "--node", url)
    assert shown["domain_epoch"] == rotated["epoch"]
    assert shown["submitted_by"] == f"edge {peer_id} for device {device_id}"
