"""Device side of the device path: encrypt a reading as a record, and send it to the edge.

A device needs a few public network parameters, kept in its key directory as
``profile.json`` (:class:`DeviceProfile`, written by ``iomtshare device profile`` from a node
once the device is registered): the chain id, the FAME public key, the erasure-coding
threshold and size, the owner (the patient member) and the owner's TPRE key, and its edge. It
needs no domain key: it encrypts K_pre under its *own* key, and the edge normalizes that to the
current domain epoch with the device's ReKey from the chain, so a rotation changes nothing on
the device.

:func:`make_upload` builds a :class:`~ledger.device_upload.DeviceUpload` as an owner seals a
policy record (:mod:`client.owner`, :mod:`client.policy_records`), except that K_pre is
``Encrypt_DCT``'d under the device key with the C1 proof bound to (record id, owner, chain),
and signs it with the device's secret key (the edge refuses an upload its device did not sign).
:func:`send_upload` posts it to the edge and :func:`wait_stored` follows it there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from client.devices import DeviceKeyError, DeviceKeys
from client.errors import ConnectionFailed, IntegrityError, NodeError, WaitTimeout
from client.http import _error_of
from client.policy_records import network_keys, parse_policy
from client.session import Session, now_ms
from crypto.abe import FamePublicKey, seal_record
from crypto.dual import encrypt_dct, setup
from crypto.groups import Group
from crypto.tpre import UserPublicKey, encrypt_to_owner
from ledger.content import record_context
from ledger.device_upload import MAX_UPLOAD_BYTES, DeviceUpload
from ledger.file_sealing import seal_file
from ledger.keyfiles import write_atomic
from ledger.record_metadata import keywords_hash

PROFILE_FILE = "profile.json"
PROFILE_VERSION = 1
#: How long ``wait_stored`` polls the edge between answers.
_POLL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """The public parameters a device encrypts with (all hex or plain JSON values)."""

    version: int
    chain_id: str
    device_id: str
    owner: str
    owner_tpre_key: str
    edge: str
    fame_public_key: str
    threshold: int
    size: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def make_profile(session: Session, device: DeviceKeys) -> DeviceProfile:
    """The profile of registered ``device``, read from the node of ``session``.

    Raises :class:`~client.errors.NodeError` (``not_found``) if the device is not registered,
    :class:`IntegrityError` if the owner has published no TPRE key or the node's answers do not
    check out, and :class:`~client.policy_records.PolicyRecordError` for a network without
    the authority's keys.
    """
    shown = session.client._get(f"/devices/{device.device_id.hex()}")
    if shown.get("device_key") != device.public_key.hex():
        raise IntegrityError("the node shows another key for this device id")
    owner = bytes.fromhex(str(shown["owner"]))
    genesis = session.genesis
    fame = network_keys(genesis, session.group).fame
    return DeviceProfile(
        version=PROFILE_VERSION,
        chain_id=genesis.chain_id,
        device_id=device.device_id.hex(),
        owner=owner.hex(),
        owner_tpre_key=session.member_tpre_key(owner).to_bytes().hex(),
        edge=str(shown["edge"]),
        fame_public_key=fame.to_bytes().hex(),
        threshold=genesis.threshold,
        size=genesis.size,
    )


def write_profile(directory: Path, profile: DeviceProfile) -> Path:
    """Write ``profile`` into the device directory; raises :class:`DeviceKeyError`."""
    path = directory / PROFILE_FILE
    try:
        write_atomic(path, (json.dumps(profile.to_json(), indent=1) + "\n").encode())
    except OSError as exc:
        raise DeviceKeyError(f"cannot write {path}: {exc}") from exc
    return path


def load_profile(directory: Path) -> DeviceProfile:
    """The profile in ``directory``; raises :class:`DeviceKeyError` if it is missing or bad."""
    path = directory / PROFILE_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        profile = DeviceProfile(**document)
    except OSError as exc:
        raise DeviceKeyError(
            f"cannot read {path} ({exc}); write it with `iomtshare device profile`"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise DeviceKeyError(f"{path} is not a device profile: {exc}") from exc
    if profile.version != PROFILE_VERSION:
        raise DeviceKeyError(f"{path}: profile version {profile.version!r} unsupported")
    return profile


def make_upload(
    group: Group,
    profile: DeviceProfile,
    device: DeviceKeys,
    data: bytes,
    *,
    policy: str,
    access_limit: int = 100,
    name: str = "",
    keywords: Sequence[str] = (),
) -> DeviceUpload:
    """Encrypt ``data`` as a new record of the profile's owner under ``policy``, signed with
    ``device``'s secret key.

    Raises :class:`ValueError` for an access limit below 1,
    :class:`~client.policy_records.PolicyRecordError` for a policy that does not parse and
    :class:`DeviceKeyError` if ``device`` is not the profile's device or the profile's keys do
    not decode.
    """
    if access_limit < 1:
        raise ValueError("access limit must be at least 1")
    if device.device_id.hex() != profile.device_id:
        raise DeviceKeyError("the device key is not the device this profile was written for")
    parsed = parse_policy(policy)
    params = setup(group)
    owner = bytes.fromhex(profile.owner)
    try:
        fame = FamePublicKey.from_bytes(bytes.fromhex(profile.fame_public_key), group)
        owner_key = UserPublicKey.from_bytes(group, bytes.fromhex(profile.owner_tpre_key))
    except ValueError as exc:  # DecodeError is a ValueError
        raise DeviceKeyError(f"the profile's keys do not decode: {exc}") from exc
    sealed_file = seal_file(data, name, profile.threshold, profile.size)
    record_id, metadata = sealed_file.record_id, sealed_file.metadata
    dual, pre_part = seal_record(fame, parsed, record_id, metadata.to_bytes())
    context = record_context(record_id, owner, profile.chain_id)
    device_public = device.secret.public_key(params)
    sealed = encrypt_dct(params, device_public, pre_part, record_id, context=context)
    return DeviceUpload(
        device_id=device.device_id,
        record_id=record_id,
        owner=owner,
        policy=policy,
        access_limit=access_limit,
        keywords_hash=keywords_hash(tuple(keywords)),
        metadata_ciphertext=encrypt_to_owner(group, owner_key, metadata.to_bytes(), record_id)
        .to_bytes(),
        storage_commitment=sealed_file.coded.commitment.to_bytes(),
        abe_ciphertext=dual.to_bytes(),
        device_ciphertext=sealed.to_bytes(),
        bulk=sealed_file.bulk,
        created_at_ms=now_ms(),
        signature=b"",
    ).signed(params, device.secret, profile.chain_id)


def _edge_call(edge_url: str, method: str, path: str, timeout: float, **kw: Any) -> Any:
    try:
        response = httpx.request(method, edge_url.rstrip("/") + path, timeout=timeout, **kw)
    except httpx.HTTPError as exc:
        raise ConnectionFailed(f"cannot reach the edge {edge_url}: {exc}") from exc
    if response.status_code >= 400:
        raise _error_of(response)
    try:
        return response.json()
    except ValueError as exc:
        raise NodeError(response.status_code, "bad_response", "answer is not JSON") from exc


def send_upload(edge_url: str, upload: DeviceUpload, *, timeout: float = 60.0) -> dict[str, Any]:
    """POST ``upload`` to the edge; returns its answer (``record_id``, ``tx_id``, ``epoch``,
    ``status``). Raises :class:`ValueError` for an upload over the edge's bound and
    :class:`~client.errors.NodeError` (the edge's typed refusal) or
    :class:`~client.errors.ConnectionFailed`."""
    body = upload.to_bytes()
    if len(body) > MAX_UPLOAD_BYTES:
        raise ValueError(f"the upload is {len(body)} bytes, over the edge's {MAX_UPLOAD_BYTES}")
    path = f"/devices/{upload.device_id.hex()}/uploads"
    headers = {"content-type": "application/octet-stream"}
    answer: dict[str, Any] = _edge_call(
        edge_url, "POST", path, timeout, content=body, headers=headers
    )
    return answer


def wait_stored(
    edge_url: str, device_id: bytes, record_id: bytes, *, timeout: float = 120.0
) -> dict[str, Any]:
    """Poll the edge until the upload of ``record_id`` is committed and its fragments are
    stored; returns the edge's last answer. Raises :class:`WaitTimeout`, or
    :class:`~client.errors.NodeError` (code ``upload_failed``) if the edge gave up on it."""
    path = f"/devices/{device_id.hex()}/uploads/{record_id.hex()}"
    deadline = time.monotonic() + timeout
    while True:
        answer: dict[str, Any] = _edge_call(edge_url, "GET", path, 30.0)
        if answer.get("status") == "stored":
            return answer
        if answer.get("status") == "failed":
            raise NodeError(500, "upload_failed", str(answer.get("reason")))
        if time.monotonic() > deadline:
            raise WaitTimeout(
                f"record {record_id.hex()} not stored within {timeout:g} s "
                f"(edge says {answer.get('status')})"
            )
        time.sleep(_POLL_SECONDS)
