"""Seed 001's sensor path on a real 4-node network with one edge (``testnet up --edges 1``).

The authority issues a doctor a warrant (``sensor register-user``) and registers a patient under
a temporary identity for a patient member and the edge (``sensor register``); the grant and the
warrant record are dropped into the running edge's home (it picks them up without a restart).
A reading sent with ``sensor upload`` commits on every node as a record owned by the patient
member, submitted by the edge; a doctor whose attributes satisfy the policy fetches it from a
node and through the edge, both byte-identical to the file the sensor sent. A
replayed and a stale upload are refused with their codes, counted in the edge's /metrics, and
commit nothing. ``sensor simulate`` streams a few seconds of ECG and every upload commits.
The network harness is ``tests/integration/test_edge.py``'s.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from client.sensors import EdgeRefused, load_profile, make_upload, post_upload
from testnet.layout import Network
from tests.integration.test_device_path import (
    fetch_both_ways,
    member,
    member_id,
    ok,
    record_everywhere,
)
from tests.integration.test_edge import PATIENCE, network

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

__all__ = ["network"]  # the module-scoped network fixture this module runs on

POLICY = "role:doctor"
PATIENT = "Ana Realname, MRN 5550-1212"
DOCTOR = "Dr. Real Doctor, licence 77-0001"
READING = "2026-12-06T14:00Z ecg lead II " + "0.12,0.98,-0.21," * 40


def wait_stored(edge_url: str, device_id: str, record_id: str) -> None:
    """Until the edge reports the record committed and its fragments handed to the nodes."""
    deadline = time.monotonic() + 4 * PATIENCE
    while True:
        answer = httpx.get(f"{edge_url}/devices/{device_id}/uploads/{record_id}", timeout=10)
        state = answer.json() if answer.status_code == 200 else {}
        assert state.get("status") != "failed", state
        if state.get("status") == "stored":
            return
        assert time.monotonic() < deadline, f"record {record_id} not stored: {answer.text}"
        time.sleep(0.3)


def metric(edge_url: str, reason: str) -> float:
    text = httpx.get(f"{edge_url}/metrics", timeout=10).text
    line = f'iomtshare_sensor_refusals_total{{reason="{reason}"}} '
    return next(float(row[len(line):]) for row in text.splitlines() if row.startswith(line))


def test_a_sensor_reading_commits_as_the_patients_record(
    network: Network, tmp_path: Path
) -> None:
    url, key = network.node(1).http_url, str(network.authority_key_path)
    edge, edge_url = network.edges[0], network.edges[0].http_url
    edge_home = network.directory / edge.home
    patient = member(network, tmp_path / "patient", "owner")
    doctor = member(network, tmp_path / "doctor", "requester", POLICY)
    info = tmp_path / "edge.json"
    info.write_text(json.dumps(ok("keys", "show", "--home", str(edge_home))))

    (tmp_path / "doctor.id").write_text(DOCTOR + "\n", encoding="utf-8")
    (tmp_path / "patient.id").write_text(PATIENT + "\n", encoding="utf-8")
    user = ok("sensor", "register-user", "--real-id-file", str(tmp_path / "doctor.id"), "--out",
              str(tmp_path / "warrant"), "--key", key)
    made = ok("sensor", "register", "--real-id-file", str(tmp_path / "patient.id"), "--owner",
              patient, "--edge-info",
              str(info), "--edge-url", edge_url, "--policy", POLICY, "--user", user["user"],
              "--profile-out", str(tmp_path / "sensor"), "--grant-out",
              str(tmp_path / "p.grant"), "--key", key, "--node", url)
    for source, folder in ((tmp_path / "p.grant", "grants"), (Path(user["warrant"]), "warrants")):
        (edge_home / "sensors" / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(source, edge_home / "sensors" / folder / source.name)

    reading = tmp_path / "reading.csv"
    reading.write_text(READING)
    sent = ok("sensor", "upload", "--profile", str(tmp_path / "sensor"), str(reading))
    wait_stored(edge_url, made["device_id"], sent["record_id"])
    for record in record_everywhere(network, sent["record_id"]):
        assert record["owner"] == member_id(patient)
        assert (record["device_id"], record["edge"]) == (made["device_id"], edge.peer_id)
    decision = ok("client", "request", sent["record_id"], "--member", doctor, "--node",
                  network.node(2).http_url, "--timeout", "90")
    assert decision["status"] == "granted"
    fetch_both_ways(network, doctor, sent["record_id"], decision, reading.read_bytes(), tmp_path)

    profile = load_profile(tmp_path / "sensor")
    fresh = make_upload(profile, b"second reading")
    with httpx.Client(timeout=60) as http:
        accepted = post_upload(http, edge_url, fresh)
        for bad, reason in ((fresh, "replayed"),
                            (make_upload(profile, b"late", int(time.time()) - 3600), "stale")):
            with pytest.raises(EdgeRefused) as refused:
                post_upload(http, edge_url, bad)
            assert refused.value.code == reason
            assert metric(edge_url, reason) == 1.0
    wait_stored(edge_url, made["device_id"], accepted["record_id"])
    owned = httpx.get(f"{url}/records", params={"owner": member_id(patient)}, timeout=10).json()
    assert {r["record_id"] for r in owned["records"]} == {sent["record_id"],
                                                          accepted["record_id"]}

    listed = ok("sensor", "access", "--credential", str(tmp_path / "warrant" / "credential"),
                "--patient", made["temporary_id"], "--edge", edge_url)
    assert set(listed["records"]) == {sent["record_id"], accepted["record_id"]}

    load = ok("sensor", "simulate", "--edge", edge_url, "--profile", str(tmp_path / "sensor"),
              "--rate", "2", "--duration", "5", "--committed")
    print("sensor simulate:", load)
    assert load["sent"] >= 1
    assert load["accepted"] == load["sent"]
    assert load["committed"] == load["accepted"]

    everything = b"".join(p.read_bytes() for root in (edge_home / "sensors", edge_home / "data",
                                                      tmp_path / "sensor")
                          for p in root.rglob("*") if p.is_file())
    assert PATIENT.encode() not in everything
    assert DOCTOR.encode() not in everything
