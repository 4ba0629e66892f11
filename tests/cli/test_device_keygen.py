"""``iomtshare device keygen`` without a network: the files it writes, refusing to overwrite,
and the device key loader's typed errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.devices import DeviceKeyError, load_device_key
from crypto.groups import load_group
from ledger.keyfiles import save_secret
from ledger.transactions import device_id_for
from tests.cli.live_cli import ok_json, run


def test_keygen_writes_a_loadable_key_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "dev"
    made = ok_json("device", "keygen", "--out", str(out))
    public = json.loads((out / "device.json").read_text())
    assert public == {"device_id": made["device_id"], "device_key": made["device_key"]}
    assert device_id_for(bytes.fromhex(made["device_key"])).hex() == made["device_id"]
    assert (out / "device_secret_key").stat().st_mode & 0o777 == 0o600
    keys = load_device_key(load_group(), out)
    assert keys.public_key.hex() == made["device_key"]
    assert load_device_key(load_group(), out / "device_secret_key").device_id == keys.device_id

    again = run("device", "keygen", "--out", str(out))
    assert again.exit_code == 1
    assert "exists (pass --force to replace it)" in again.output
    replaced = ok_json("device", "keygen", "--out", str(out), "--force")
    assert replaced["device_id"] != made["device_id"]


def test_loading_a_missing_or_foreign_key_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceKeyError, match="cannot read the device key"):
        load_device_key(load_group(), tmp_path / "nothing")
    foreign = tmp_path / "foreign"
    foreign.write_bytes(b"\x00" * 66)
    with pytest.raises(DeviceKeyError, match="is not a device secret key"):
        load_device_key(load_group(), foreign)
    authority = tmp_path / "authority_key"
    save_secret(authority, bytes(range(32)))
    refused = run("authority", "rekey-device", "--device-key", str(foreign), "--key",
                  str(authority), "--node", "http://127.0.0.1:9")
    assert refused.exit_code == 1
    assert "is not a device secret key" in refused.output
