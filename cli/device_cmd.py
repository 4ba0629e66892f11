"""``iomtshare device ...``: a device's key pair (seed 000's DCT key) and its uploads.

The authority makes device keys (DESIGN 3.3): ReKeyGen needs the device secret, so the
authority runs ``device keygen``, provisions the directory onto the device, keeps the secret
for the device's ReKeys (``device register``, which is ``authority register-device``, and
``authority rekey-device``) and puts the device on chain. ``device profile`` then writes the
public parameters the device encrypts with into the same directory; on the device, ``device
encrypt`` makes an upload of a reading and ``device upload`` sends it to the device's edge
(docs/devices.md).
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.authority_cmd import register_device as _authority_register_device
from cli.common import (
    backend_option,
    client_errors,
    emit,
    json_option,
    node_option,
    open_session,
    timeout_option,
)

_device_dir = click.option(
    "--device-key", "device_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True, help="The device's directory (from `iomtshare device keygen`).",
)


@click.group("device")
def device() -> None:
    """Device commands: keygen, register, profile, encrypt, upload."""


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


register = click.Command(
    "register",
    params=list(_authority_register_device.params),
    callback=_authority_register_device.callback,
    short_help="The authority puts a device on chain (= authority register-device).",
    help="""The authority's step, the same command as `iomtshare authority register-device`:
    it needs the authority key (--key) and the device secret (--device-key), so it runs where
    the authority keeps them, not on the device.

    It puts the device on chain: its public key, its owner (--owner), the genesis edge that
    submits its records (--edge), and its ReKey to the current domain epoch, made here from the
    device secret. The node refuses an owner that is not registered, an edge the genesis does
    not list, and a device already on chain. Then run `device profile` for the device.""",
)
device.add_command(register)


@device.command("profile")
@_device_dir
@node_option
@backend_option
@json_option
def profile(device_dir: Path, node_url: str, backend: str | None, as_json: bool) -> None:
    """Write profile.json into the device directory, from a node: the chain id, the FAME
    public key, the erasure-coding threshold and size, the device's owner and the owner's
    TPRE key, the device's edge. Run once the device is registered (and the owner has
    published a TPRE key); all of it is public, and a domain key rotation does not change it."""
    from client.device_upload import make_profile, write_profile
    from client.devices import DeviceKeyError, load_device_key

    with open_session(node_url, backend) as session:
        try:
            keys = load_device_key(session.group, device_dir)
            made = make_profile(session, keys)
            path = write_profile(device_dir, made)
        except DeviceKeyError as exc:
            raise click.ClickException(str(exc)) from exc
    emit({**made.to_json(), "fame_public_key": f"{len(made.fame_public_key) // 2} bytes",
          "profile": str(path)}, as_json)


@device.command("encrypt")
@_device_dir
@click.option("--policy", required=True, help='Access policy, e.g. "role:doctor and dept:cardio".')
@click.option("--access-limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="How many granted accesses the record allows.")
@click.option("--name", default="", help="File name kept in the sealed metadata.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the upload (its canonical encoding).")
@backend_option
@json_option
def encrypt(device_dir: Path, policy: str, access_limit: int, name: str, file: Path, out: Path,
            backend: str | None, as_json: bool) -> None:
    """Encrypt FILE as a new record of the device's owner under --policy, on the device.

    K_pre goes under the device's own key (Encrypt_DCT) with a proof bound to the record id,
    the owner and the chain; K_abe under a FAME header for the policy; the metadata and the
    file are sealed as for an owner's policy record. The upload is signed with the device's
    secret key, which the edge checks before it takes anything. Needs profile.json
    (`device profile`)."""
    from client.device_upload import load_profile, make_upload
    from client.devices import DeviceKeyError, load_device_key
    from crypto.groups import load_group
    from ledger.keyfiles import write_atomic

    group = load_group(backend)
    with client_errors():
        try:
            keys = load_device_key(group, device_dir)
            upload = make_upload(group, load_profile(device_dir), keys, file.read_bytes(),
                                 policy=policy, access_limit=access_limit,
                                 name=name or file.name)
            write_atomic(out, upload.to_bytes(), mode=0o600)
        except (DeviceKeyError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc
    emit({"record_id": upload.record_id.hex(), "device_id": upload.device_id.hex(),
          "owner": upload.owner.hex(), "policy": policy, "bytes": len(upload.to_bytes()),
          "out": str(out)}, as_json)


@device.command("upload")
@click.option("--edge", "edge_url", required=True, help="The edge's HTTP URL.")
@click.argument("upload_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--wait", is_flag=True,
              help="Wait until the record is committed and its fragments are stored.")
@timeout_option
@json_option
def upload(edge_url: str, upload_file: Path, wait: bool, timeout: float, as_json: bool) -> None:
    """Send an upload from `device encrypt` to the device's edge; print the record id and the
    transaction id. The edge checks it, normalizes it to the current domain epoch with the
    device's ReKey and submits it; with --wait, follow it through the edge until stored."""
    from client.device_upload import send_upload, wait_stored
    from crypto.errors import DecodeError
    from ledger.device_upload import DeviceUpload

    try:
        made = DeviceUpload.from_bytes(upload_file.read_bytes())
    except DecodeError as exc:
        raise click.ClickException(f"{upload_file} is not a device upload: {exc}") from exc
    with client_errors():
        answer = send_upload(edge_url, made)
        if wait:
            answer = wait_stored(edge_url, made.device_id, made.record_id, timeout=timeout)
    emit(answer, as_json)
