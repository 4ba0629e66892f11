"""Sensors on the lightweight profile (seed 001, DESIGN 3.6): the authority's and the sensor's side.

Authority side, kept in its light home (``DIR/light`` beside the authority key by default)::

    light/light_secret               S_TA (32 bytes, mode 0600)
    light/patients/<ptid hex>        PatientEntry sealed under HKDF(S_TA): Ptid -> real identity
    light/devices/<ptid hex>/        the dual device key put on chain for that patient (0600)

:func:`register_sensor` registers a patient under a temporary identity (the patient's half of
the registration runs here, where the sensor is provisioned, so the real identity never leaves
the authority), puts a device on chain for the patient's member and the serving edge (so the
chain lets that edge submit records owned by the member), and returns the sensor's profile
(``a_n`` and the edge URL) and the edge's grant, sealed to the edge's box key.

The device key exists only because ``RegisterDevice`` needs a dual device key and its ReKey:
neither the sensor nor the edge ever encrypts with it (the edge seals readings straight to the
domain key). The authority keeps it to run ``authority rekey-device`` after a rotation.

Sensor side: :func:`load_profile`, :func:`post_upload` (one reading through the lightweight
profile to the edge) and :func:`post_access` (a warrant holder's request).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from client.authority import check_authority
from client.devices import DeviceKeyError, DeviceKeys, register_device, write_device_key
from client.errors import ClientError, IntegrityError
from client.policy_records import parse_policy
from client.session import DEFAULT_COMMIT_TIMEOUT, Session
from crypto import aead
from crypto.errors import CryptoError
from crypto.kdf import derive_key
from crypto.light import Authority, PatientKey, Upload, UserCredential, WarrantRecord
from crypto.light.curve import L, random_scalar, scalar_from_bytes, scalar_to_bytes
from crypto.light.patient import encrypt_reading, finish_registration, start_registration
from crypto.light.provision import PatientEntry, SensorGrant
from crypto.light.user import access_request
from crypto.sealing import BoxPublicKey
from crypto.signing import SigningKey
from ledger.keyfiles import KeyFileError, load_secret, save_secret, write_atomic

LIGHT_DIR = "light"
SECRET_FILE = "light_secret"  # noqa: S105 - a file name
PATIENTS_DIR = "patients"
DEVICES_DIR = "devices"
PROFILE_KEY_FILE = "sensor_key"
PROFILE_FILE = "sensor.json"
PROFILE_VERSION = 1
CREDENTIAL_FILE = "credential"
ENTRY_LABEL = b"iomtshare/client/sensors/patient-entry/v1"
UPLOAD_PATH = "/sensor/uploads"
ACCESS_PATH = "/sensor/access"


class SensorError(ClientError):
    """A sensor profile, light home or edge file that cannot be read, written or used."""


class EdgeRefused(ClientError):
    """The edge refused an upload or access request: ``code`` is its reason."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"edge refused ({status} {code}): {message}")
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class EdgeTarget:
    """The edge a sensor uploads to: its genesis peer id and X25519 box key (from
    ``iomtshare keys show --home EDGE --json``)."""

    peer_id: str
    verify_key: bytes
    box_key: bytes

    @classmethod
    def load(cls, path: Path) -> EdgeTarget:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            target = cls(
                str(document["peer_id"]), bytes.fromhex(document["verify_key"]),
                bytes.fromhex(document["box_key"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SensorError(f"{path} is not an edge info file: {exc}") from exc
        if len(target.box_key) != 32 or len(target.verify_key) != 32:
            raise SensorError(f"{path}: verify_key and box_key are 32-byte keys")
        return target


@dataclass(frozen=True, slots=True)
class SensorRegistration:
    """What :func:`register_sensor` made: the sensor's key, the edge's sealed grant, the device."""

    key: PatientKey
    sealed_grant: bytes
    device: dict[str, Any]

    @property
    def temporary_id(self) -> bytes:
        return self.key.temporary_id


def light_authority(directory: Path, signing_key: SigningKey) -> Authority:
    """The lightweight authority of the light home ``directory``: its ``S_TA`` (made on first
    use) and the genesis authority's signing key. Raises :class:`SensorError`."""
    path = directory / SECRET_FILE
    try:
        if not path.exists():
            _create_secret(path)
        secret = scalar_from_bytes(load_secret(path))
    except (OSError, KeyFileError, CryptoError) as exc:
        raise SensorError(f"light authority secret {path}: {exc}") from exc
    if not 0 < secret < L:
        raise SensorError(f"{path} does not hold a scalar in [1, L)")
    return Authority(secret, signing_key)


def _create_secret(path: Path) -> None:
    """Make a new ``S_TA`` at ``path`` unless one is there: staged in full, then linked into
    place, which fails if another command made it first (its secret, and the patient entries
    sealed under it, are kept). Raises ``OSError`` or :class:`KeyFileError`."""
    staged = path.with_name(f".{path.name}.{secrets.token_hex(8)}.new")
    save_secret(staged, scalar_to_bytes(random_scalar()))
    try:
        os.link(staged, path)
    except FileExistsError:
        pass
    finally:
        staged.unlink()


def _entry_key(directory: Path) -> bytes:
    return derive_key(ENTRY_LABEL, load_secret(directory / SECRET_FILE))


def save_entry(directory: Path, entry: PatientEntry) -> Path:
    path = directory / PATIENTS_DIR / entry.temporary_id.hex()
    path.parent.mkdir(parents=True, exist_ok=True)
    sealed = aead.seal(_entry_key(directory), entry.to_bytes(), entry.temporary_id)
    write_atomic(path, sealed, mode=0o600)
    return path


def load_entry(directory: Path, temporary_id: bytes) -> PatientEntry:
    """The authority's note on ``temporary_id``; raises :class:`SensorError`."""
    path = directory / PATIENTS_DIR / temporary_id.hex()
    try:
        raw = aead.open_sealed(_entry_key(directory), path.read_bytes(), temporary_id)
        return PatientEntry.from_bytes(raw)
    except (OSError, KeyFileError, CryptoError) as exc:
        raise SensorError(f"patient entry {path}: {exc}") from exc


def register_sensor(
    session: Session,
    signing_key: SigningKey,
    directory: Path,
    *,
    real_id: str,
    owner: bytes,
    edge: EdgeTarget,
    policy: str,
    users: Sequence[bytes] = (),
    now: int | None = None,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> SensorRegistration:
    """Register a sensor patient for member ``owner`` served by ``edge`` (see the module doc).

    ``users`` are the user pseudonyms (the set S) whose warrants the edge honours for this
    patient. Waits for the RegisterDevice to commit. Raises :class:`SensorError`,
    :class:`~client.policy_records.PolicyRecordError` (policy), ``ValueError`` (edge not in
    genesis) and the client's node errors.
    """
    check_authority(session, signing_key)
    parse_policy(policy)
    listed = session.genesis.edge(edge.peer_id)
    if listed is None or listed.verify_key != edge.verify_key:
        raise ValueError(f"the genesis lists no edge {edge.peer_id!r} with that verify key")
    member = session.client.member(owner.hex())
    try:
        owner_tpre = bytes.fromhex(member["tpre_public_key"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"the node's member answer has no TPRE key: {exc!r}") from exc
    now = int(time.time()) if now is None else now
    authority = light_authority(directory, signing_key)
    pending = start_registration(real_id, users, authority.public, now)
    patient_grant, record = authority.register_patient(pending.message, now)
    key = finish_registration(pending, patient_grant)
    device = _device_for(session, directory / DEVICES_DIR / key.temporary_id.hex())
    # The sealed entry first: a device on chain is never left without its note.
    entry = PatientEntry(key.temporary_id, real_id, owner, edge.peer_id, device.device_id, now)
    try:
        save_entry(directory, entry)
    except (OSError, KeyFileError) as exc:
        raise SensorError(f"cannot save the patient entry in {directory}: {exc}") from exc
    registered = register_device(session, signing_key, device, owner, edge.peer_id,
                                 timeout=timeout)
    grant = SensorGrant(
        session.chain_id, record, key, authority.public.public_point, owner, owner_tpre,
        device.device_id, policy, now,
    ).signed(signing_key)
    sealed = BoxPublicKey(edge.box_key).seal(grant.to_bytes())
    return SensorRegistration(key, sealed, registered)


def _device_for(session: Session, directory: Path) -> DeviceKeys:
    try:
        return write_device_key(session.group, directory)
    except (OSError, DeviceKeyError) as exc:
        raise SensorError(f"cannot write the device key to {directory}: {exc}") from exc


def register_user(
    directory: Path, signing_key: SigningKey, real_id: str, expiry: int
) -> tuple[UserCredential, WarrantRecord]:
    """A user's credential (for the user) and warrant record (for edges), valid until
    ``expiry`` (Unix seconds)."""
    return light_authority(directory, signing_key).register_user(real_id, expiry)


def save_profile(directory: Path, key: PatientKey, edge_url: str) -> None:
    """The sensor's profile: ``a_n`` (mode 0600) and its edge's URL; nothing identifying."""
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / PROFILE_KEY_FILE, key.to_bytes(), mode=0o600)
    document = {"version": PROFILE_VERSION, "temporary_id": key.temporary_id.hex(),
                "edge_url": edge_url}
    write_atomic(directory / PROFILE_FILE, (json.dumps(document, indent=1) + "\n").encode())


@dataclass(frozen=True, slots=True)
class SensorProfile:
    key: PatientKey
    edge_url: str


def load_profile(directory: Path) -> SensorProfile:
    """Raises :class:`SensorError` for a missing or malformed profile."""
    try:
        key = PatientKey.from_bytes((directory / PROFILE_KEY_FILE).read_bytes())
        document = json.loads((directory / PROFILE_FILE).read_text(encoding="utf-8"))
        if document["version"] != PROFILE_VERSION:
            raise ValueError(f"profile version {document['version']!r} unsupported")
        if bytes.fromhex(document["temporary_id"]) != key.temporary_id:
            raise ValueError("the profile's key is for another temporary identity")
        return SensorProfile(key, str(document["edge_url"]))
    except (OSError, ValueError, KeyError, TypeError, CryptoError) as exc:
        raise SensorError(f"{directory} is not a sensor profile: {exc}") from exc


def _post(client: httpx.Client, url: str, body: bytes) -> dict[str, Any]:
    try:
        response = client.post(url, content=body,
                               headers={"content-type": "application/octet-stream"})
    except httpx.HTTPError as exc:
        raise SensorError(f"cannot reach the edge at {url}: {exc}") from exc
    try:
        document: dict[str, Any] = response.json()
    except ValueError as exc:
        raise SensorError(f"the edge answered {response.status_code} without JSON") from exc
    if response.status_code != 200:
        error = document.get("error", {}) if isinstance(document, dict) else {}
        raise EdgeRefused(response.status_code, str(error.get("code", "?")),
                          str(error.get("message", "")))
    return document


def make_upload(profile: SensorProfile, reading: bytes, now: int | None = None) -> Upload:
    """Encrypt one reading (two scalar multiplications and one AEAD)."""
    return encrypt_reading(profile.key, reading, int(time.time()) if now is None else now)


def post_upload(client: httpx.Client, edge_url: str, upload: Upload) -> dict[str, Any]:
    """Send ``upload`` to the edge; returns ``{record_id, tx_id, temporary_id}``. Raises
    :class:`EdgeRefused` (with the edge's reason code) or :class:`SensorError`."""
    return _post(client, edge_url.rstrip("/") + UPLOAD_PATH, upload.to_bytes())


def post_access(
    client: httpx.Client, edge_url: str, credential: UserCredential, temporary_id: bytes,
    now: int | None = None, *, after: bytes = b"", limit: int | None = None,
) -> dict[str, Any]:
    """A warrant holder's request for one page of a patient's records at the edge: ids after
    ``after``, at most ``limit`` (the edge's maximum by default); the answer's ``next``, when
    present, is the ``after`` of the following page."""
    request = access_request(credential, temporary_id, int(time.time()) if now is None else now)
    query = {"after": after.hex()} if after else {}
    if limit is not None:
        query["limit"] = str(limit)
    url = edge_url.rstrip("/") + ACCESS_PATH + ("?" + urlencode(query) if query else "")
    return _post(client, url, request.to_bytes())
