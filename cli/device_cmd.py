"""``iomtshare device ...``: a device's key pair (seed 000's DCT key).

The authority makes device keys (DESIGN 3.3): ReKeyGen needs the device secret, so the
authority runs ``device keygen``, provisions the directory onto the device, keeps the secret
for the device's ReKeys (``authority register-device``, ``authority rekey-device``) and puts
the device on chain.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import backend_option, emit, json_option


@click.group("device")
def device() -> None:
    """Device commands: keygen."""


@device.command("keygen")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Directory to write device_secret_key (mode 0600) and device.json into.",
)
@click.option("--force", is_flag=True, help="Replace a device key already in --out.")
@backend_option
@json_option
def keygen(out_dir: Path, force: bool, backend: str | None, as_json: bool) -> None:
    """Make a device key pair (u1, u2) and write it to --out.

    Run by the authority: it registers the device with `iomtshare authority register-device
    --device-key DIR` and keeps the secret to make the device's ReKey of later domain epochs.
    device.json holds the device id (a hash of the public key) and the public key."""
    from client.devices import DeviceKeyError, write_device_key
    from crypto.groups import load_group

    try:
        keys = write_device_key(load_group(backend), out_dir, force=force)
    except DeviceKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(
        {
            "device_id": keys.device_id.hex(),
            "device_key": keys.public_key.hex(),
            "directory": str(out_dir),
        },
        as_json,
    )
