"""The lightweight authority's files in client.sensors: S_TA made once, device-key errors typed,
the patient entry saved before the device goes on chain."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import client.sensors as sensors
from client.devices import SECRET_FILE as DEVICE_SECRET
from client.sensors import (
    DEVICES_DIR,
    SECRET_FILE,
    EdgeTarget,
    SensorError,
    light_authority,
    load_entry,
    register_sensor,
)
from crypto.groups import load_group
from crypto.signing import SigningKey

REAL_ID = "Ada Example, MRN 42"


def test_a_second_command_never_replaces_the_authority_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = SigningKey.generate()
    first = light_authority(tmp_path, key)
    secret = (tmp_path / SECRET_FILE).read_bytes()
    # Another command made S_TA between this one's look and its write: it must be kept.
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: False if self.name == SECRET_FILE
                        else real_exists(self))
    barrier = threading.Barrier(4)

    def racer() -> None:
        barrier.wait()
        light_authority(tmp_path, key)

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (tmp_path / SECRET_FILE).read_bytes() == secret
    assert light_authority(tmp_path, key).public == first.public
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_FILE]  # nothing staged is left


class Refused(Exception):
    pass


def fake_session(edge: EdgeTarget) -> Any:
    listed = SimpleNamespace(verify_key=edge.verify_key)
    return SimpleNamespace(
        group=load_group("mcl"), chain_id="test-chain",
        genesis=SimpleNamespace(edge=lambda peer: listed if peer == edge.peer_id else None),
        client=SimpleNamespace(member=lambda ident: {"tpre_public_key": "00" * 32}),
    )


def test_the_patient_entry_is_saved_before_the_device_goes_on_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edge = EdgeTarget("edge-peer", bytes(range(32)), bytes(32))
    seen: list[bool] = []

    def register_device(session: Any, key: Any, device: Any, *args: Any, **kw: Any) -> None:
        entries = list((tmp_path / sensors.PATIENTS_DIR).iterdir())
        seen.append(len(entries) == 1)
        raise Refused("the node is down")

    monkeypatch.setattr(sensors, "check_authority", lambda session, key: None)
    monkeypatch.setattr(sensors, "register_device", register_device)
    with pytest.raises(Refused):
        register_sensor(fake_session(edge), SigningKey.generate(), tmp_path, real_id=REAL_ID,
                        owner=bytes(32), edge=edge, policy="role:doctor")
    assert seen == [True]
    [path] = (tmp_path / sensors.PATIENTS_DIR).iterdir()
    entry = load_entry(tmp_path, bytes.fromhex(path.name))
    assert (entry.real_id, entry.edge) == (REAL_ID, edge.peer_id)


def test_a_device_key_that_cannot_be_written_is_a_sensor_error(tmp_path: Path) -> None:
    session = fake_session(EdgeTarget("edge-peer", bytes(32), bytes(32)))
    directory = tmp_path / DEVICES_DIR / "abc"
    directory.mkdir(parents=True)
    (directory / DEVICE_SECRET).write_bytes(b"someone else's key")
    with pytest.raises(SensorError, match="cannot write the device key"):
        sensors._device_for(session, directory)
