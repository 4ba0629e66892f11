"""Devices (seed 000's DCTs), authority side: make a device's key pair, put the device on chain
with its ReKey to the current domain epoch, and give it the ReKey of a new epoch after a
rotation.

Per the design (DESIGN 3.3), the authority makes the device key: ReKeyGen needs the device
secret ``u1``, so whoever makes a ReKey holds it, and so can open that device's ciphertexts
directly. :func:`write_device_key` therefore runs where the authority works; the directory it
writes is provisioned onto the device, and the authority keeps the secret for the ReKey of each
later epoch (:func:`rekey_device`). The ReKeys themselves go on chain in the clear (see
``docs/devices.md``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.authority import check_authority
from client.domain_keys import current_domain_keys
from client.session import DEFAULT_COMMIT_TIMEOUT, Session, now_ms
from crypto.dual import DeviceSecretKey, DomainPublicKey, ReKey, rekey_gen, setup
from crypto.errors import DecodeError
from crypto.groups import Group
from crypto.signing import SigningKey
from ledger.genesis import DomainKeys
from ledger.keyfiles import write_atomic
from ledger.transactions import RegisterDevice, RekeyDevice, device_id_for

#: The device's secret key (its canonical encoding), readable only by its owner.
SECRET_FILE = "device_secret_key"  # noqa: S105 - a file name, not a secret
#: The device's public key and id, as JSON.
PUBLIC_FILE = "device.json"


class DeviceKeyError(Exception):
    """A device key directory or file that cannot be written or read."""


@dataclass(frozen=True, slots=True)
class DeviceKeys:
    """A device's key pair and its id (a hash of the public key)."""

    secret: DeviceSecretKey
    public_key: bytes
    device_id: bytes


def device_keys(group: Group, secret: DeviceSecretKey) -> DeviceKeys:
    public = secret.public_key(setup(group)).to_bytes()
    return DeviceKeys(secret, public, device_id_for(public))


def write_device_key(group: Group, directory: Path, *, force: bool = False) -> DeviceKeys:
    """Make a device key pair and write it to ``directory`` (:data:`SECRET_FILE`, mode 0600,
    and :data:`PUBLIC_FILE`). Raises :class:`DeviceKeyError` if a key is there already and
    ``force`` is not set, or the files cannot be written."""
    secret_path = directory / SECRET_FILE
    if secret_path.exists() and not force:
        raise DeviceKeyError(f"{secret_path} exists (pass --force to replace it)")
    keys = device_keys(group, DeviceSecretKey.generate(setup(group)))
    public = {"device_id": keys.device_id.hex(), "device_key": keys.public_key.hex()}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(secret_path, keys.secret.to_bytes(), mode=0o600)
        write_atomic(directory / PUBLIC_FILE, (json.dumps(public, indent=1) + "\n").encode())
    except OSError as exc:
        raise DeviceKeyError(f"cannot write the device key to {directory}: {exc}") from exc
    return keys


def load_device_key(group: Group, path: Path) -> DeviceKeys:
    """The device key in ``path`` (a :data:`SECRET_FILE`, or the directory holding one);
    raises :class:`DeviceKeyError`."""
    if path.is_dir():
        path = path / SECRET_FILE
    try:
        secret = DeviceSecretKey.from_bytes(path.read_bytes())
    except OSError as exc:
        raise DeviceKeyError(f"cannot read the device key {path}: {exc}") from exc
    except DecodeError as exc:
        raise DeviceKeyError(f"{path} is not a device secret key: {exc}") from exc
    return device_keys(group, secret)


def _current_rekey(session: Session, device: DeviceKeys) -> tuple[DomainKeys, ReKey]:
    """The current domain epoch (checked, :func:`client.domain_keys.current_domain_keys`) and
    the device's ReKey to it."""
    keys = current_domain_keys(session)
    params = setup(session.group)
    domain = DomainPublicKey.from_bytes(params, keys.public_key)
    return keys, rekey_gen(params, device.secret, domain)


def register_device(
    session: Session,
    authority: SigningKey,
    device: DeviceKeys,
    owner: bytes,
    edge: str,
    *,
    wait: bool = True,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> dict[str, Any]:
    """Submit a RegisterDevice for ``device``, measuring member ``owner`` and submitted by the
    genesis edge ``edge``, with its ReKey to the current epoch; wait for its commit by default.

    Returns ``{"tx_id", "device_id", "owner", "edge", "epoch"}`` (and ``height`` when waited
    for). Raises :class:`ValueError` if the genesis lists no edge ``edge`` and
    :class:`~client.errors.IntegrityError` if ``authority`` is not the genesis authority or the
    node's account of the domain key does not check out.
    """
    check_authority(session, authority)
    if session.genesis.edge(edge) is None:
        listed = ", ".join(e.peer_id for e in session.genesis.edges) or "none"
        raise ValueError(f"the genesis lists no edge {edge!r} (its edges: {listed})")
    keys, rekey = _current_rekey(session, device)
    tx = RegisterDevice(
        device_id=device.device_id,
        device_key=device.public_key,
        owner=owner,
        edge=edge,
        domain_epoch=keys.epoch,
        rekey=rekey.to_bytes(),
        registered_at_ms=now_ms(),
    )
    out = {"device_id": device.device_id.hex(), "owner": owner.hex(), "edge": edge}
    return _finish(session, session.sign(tx, authority), keys.epoch, out, wait, timeout)


def rekey_device(
    session: Session,
    authority: SigningKey,
    device: DeviceKeys,
    *,
    wait: bool = True,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> dict[str, Any]:
    """Submit a RekeyDevice: ``device``'s ReKey to the current epoch (after a rotation; the
    node refuses it for an epoch the device already has one for).

    Returns ``{"tx_id", "device_id", "epoch"}`` (and ``height`` when waited for); raises as
    :func:`register_device`.
    """
    check_authority(session, authority)
    keys, rekey = _current_rekey(session, device)
    tx = RekeyDevice(device.device_id, keys.epoch, rekey.to_bytes(), now_ms())
    out = {"device_id": device.device_id.hex()}
    return _finish(session, session.sign(tx, authority), keys.epoch, out, wait, timeout)


def _finish(
    session: Session, tx: RegisterDevice | RekeyDevice, epoch: int, out: dict[str, Any],
    wait: bool, timeout: float,
) -> dict[str, Any]:
    tx_id = session.submit(tx)
    out = {"tx_id": tx_id, **out, "epoch": epoch}
    if wait:
        out["height"] = session.wait_committed(tx_id, timeout).get("height")
    return out
