"""Seed 000's device path on a real 4-node network with one edge (``testnet up --edges 1``).

The authority registers a patient member and a device for edge 1 (``device register``); the
device encrypts a reading (``device encrypt``) and uploads it to the edge (``device upload
--wait``); the record commits on every node owned by the patient and naming the device; a
doctor whose attributes satisfy the policy requests it (``client request``) and fetches it with
``client fetch`` from a node and again through the edge (``--via-edge``, once the edge's
headers reach the decision's height), both byte-identical to the file the device encrypted.
An upload from an unregistered device and one with a forged C1 proof are refused with their
codes, counted in the edge's metrics, and commit nothing. After ``authority
rotate-domain-key`` and ``authority rekey-device`` the same device key uploads again and the
record commits under the new epoch. The network harness is ``tests/integration/test_edge.py``'s.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from cli.main import main
from client.device_upload import load_profile, make_upload, send_upload
from client.devices import load_device_key
from client.errors import NodeError
from crypto.dual import encrypt_dct, setup
from crypto.groups import load_group
from ledger.content import record_context
from testnet.layout import Network
from tests.integration.test_edge import PATIENCE, network
from tests.integration.test_edge_proofs import wait_edge_height

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

__all__ = ["network"]  # the module-scoped network fixture this module runs on

POLICY = "role:doctor"
READING = b"2026-12-06T14:00Z hr=72 spo2=98\n" * 200


def run(*args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)


def ok(*args: str) -> Any:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@dataclasses.dataclass
class Setup:
    network: Network
    tmp: Path
    patient: str
    doctor: str
    device_dir: Path
    device_id: str

    @property
    def url(self) -> str:
        return self.network.node(1).http_url

    @property
    def edge_url(self) -> str:
        return self.network.edges[0].http_url


def member(net: Network, directory: Path, role: str, *attrs: str) -> str:
    url = net.node(1).http_url
    ok("client", "keygen", "--member", str(directory), "--role", role)
    flags = [arg for a in attrs for arg in ("--attr", a)]
    ok("authority", "register", str(directory), "--key", str(net.authority_key_path),
       "--node", url, *flags)
    ok("client", "publish-key", "--member", str(directory), "--node", url)
    if attrs:
        ok("authority", "issue-keys", str(directory), "--authority-dir", str(net.authority_dir),
           "--node", url)
    return str(directory)


@pytest.fixture(scope="module")
def world(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    assert network.genesis.fame_public_key
    tmp = tmp_path_factory.mktemp("device-path")
    patient = member(network, tmp / "patient", "owner")
    doctor = member(network, tmp / "doctor", "requester", "role:doctor")
    device_dir = tmp / "device"
    device_id = ok("device", "keygen", "--out", str(device_dir))["device_id"]
    url, edge = network.node(1).http_url, network.edges[0].peer_id
    ok("device", "register", "--device-key", str(device_dir), "--owner", patient,
       "--edge", edge, "--key", str(network.authority_key_path), "--node", url)
    profile = ok("device", "profile", "--device-key", str(device_dir), "--node", url)
    assert (profile["device_id"], profile["edge"]) == (device_id, edge)
    return Setup(network, tmp, patient, doctor, device_dir, device_id)


def member_id(directory: str) -> str:
    return str(json.loads(Path(directory, "member.json").read_text())["member_id"])


def upload_reading(world: Setup, data: bytes) -> dict[str, Any]:
    """``device encrypt`` then ``device upload --wait``; returns what the upload printed, plus
    ``source``: the file the device encrypted."""
    source, out = world.tmp / f"r-{secrets.token_hex(4)}.csv", world.tmp / "upload.bin"
    source.write_bytes(data)
    made = ok("device", "encrypt", "--device-key", str(world.device_dir), "--policy", POLICY,
              str(source), "--out", str(out))
    sent = ok("device", "upload", "--edge", world.edge_url, str(out), "--wait",
              "--timeout", "240")
    assert sent["record_id"] == made["record_id"]
    assert sent["status"] == "stored"
    assert sent["fragments_stored"] >= world.network.genesis.threshold
    return {**sent, "source": str(source)}


def record_everywhere(world: Setup | Network, record_id: str) -> list[dict[str, Any]]:
    net = world if isinstance(world, Network) else world.network
    shown = []
    for node in net.nodes:
        deadline = time.monotonic() + PATIENCE
        while True:
            answer = httpx.get(f"{node.http_url}/records/{record_id}", timeout=10)
            if answer.status_code == 200:
                shown.append(answer.json())
                break
            assert time.monotonic() < deadline, f"record {record_id} not on {node.http_url}"
            time.sleep(0.2)
    return shown


def test_a_device_reading_reaches_a_doctor_through_the_edge(world: Setup) -> None:
    sent = upload_reading(world, READING)
    record_id = sent["record_id"]
    for record in record_everywhere(world, record_id):
        assert record["owner"] == member_id(world.patient)
        assert record["device_id"] == world.device_id
        assert record["edge"] == world.network.edges[0].peer_id
    decision = ok("client", "request", record_id, "--member", world.doctor, "--node",
                  world.network.node(2).http_url, "--timeout", "90")
    assert decision["status"] == "granted"
    original = Path(sent["source"]).read_bytes()
    assert original == READING
    fetch_both_ways(world.network, world.doctor, record_id, decision, original, world.tmp)


def fetch_both_ways(net: Network, doctor: str, record_id: str, decision: dict[str, Any],
                    original: bytes, tmp: Path) -> None:
    """``client fetch`` from node 3, then ``--via-edge`` once the edge's headers reach the
    decision's height (it proves the decision from them); each fetch signs a fresh token and
    must give exactly ``original``."""
    common = [record_id, decision["request_id"], "--member", doctor,
              "--node", net.node(3).http_url]
    ok("client", "fetch", *common, "-o", str(tmp / "from-node"))
    assert (tmp / "from-node").read_bytes() == original
    wait_edge_height(net, decision["height"])
    ok("client", "fetch", *common, "--via-edge", net.edges[0].http_url,
       "-o", str(tmp / "via-edge"))
    assert (tmp / "via-edge").read_bytes() == original


def _refused(world: Setup, upload: Any, code: str) -> None:
    with pytest.raises(NodeError) as refused:
        send_upload(world.edge_url, upload)
    assert refused.value.code == code, refused.value
    for node in world.network.nodes:
        answer = httpx.get(f"{node.http_url}/records/{upload.record_id.hex()}", timeout=10)
        assert answer.status_code == 404


def test_an_unregistered_device_a_forged_proof_and_unsigned_changes_are_refused(
    world: Setup,
) -> None:
    group = load_group()
    params = setup(group)
    profile = load_profile(world.device_dir)
    stranger_dir = world.tmp / "stranger"
    ok("device", "keygen", "--out", str(stranger_dir))
    stranger = load_device_key(group, stranger_dir)
    foreign = dataclasses.replace(profile, device_id=stranger.device_id.hex())
    _refused(world, make_upload(group, foreign, stranger, READING, policy=POLICY),
             "unknown_device")

    device = load_device_key(group, world.device_dir)
    honest = make_upload(group, profile, device, READING, policy=POLICY)
    # C1's proof bound to another record id: the edge must not normalize and submit it.
    other = record_context(secrets.token_bytes(32), honest.owner, profile.chain_id)
    sealed = encrypt_dct(params, device.secret.public_key(params), b"k" * 32, honest.record_id,
                         context=other)
    forged = dataclasses.replace(honest, device_ciphertext=sealed.to_bytes())
    _refused(world, forged.signed(params, device.secret, profile.chain_id), "bad_proof")
    # Anyone can build an upload from chain data, but not the device's signature on it; and a
    # field changed on the way to the edge breaks the signature.
    _refused(world, forged, "bad_device_signature")
    _refused(world, dataclasses.replace(honest, access_limit=2**32 - 1), "bad_device_signature")

    metrics = httpx.get(f"{world.edge_url}/metrics", timeout=10).text
    for code, count in (("unknown_device", 1), ("bad_proof", 1), ("bad_device_signature", 2)):
        line = f'iomtshare_edge_device_uploads_refused_total{{reason="{code}"}} {count:.1f}'
        assert line in metrics
    assert httpx.get(f"{world.edge_url}/status", timeout=10).json()["peer_id"] == (
        world.network.edges[0].peer_id
    )


def test_after_a_rotation_the_same_device_uploads_under_the_new_epoch(world: Setup) -> None:
    net, url = world.network, world.url
    key = str(net.authority_key_path)
    rotated = ok("authority", "rotate-domain-key", "--key", key, "--node", url)
    ok("authority", "rekey-device", "--device-key", str(world.device_dir), "--key", key,
       "--node", url)
    sent = upload_reading(world, b"after the rotation\n" * 50)  # the device is untouched
    assert sent["epoch"] == rotated["epoch"]
    for record in record_everywhere(world, sent["record_id"]):
        assert record["domain_epoch"] == rotated["epoch"]
