"""The data user (doctor, analyst): access and key requests, integrity check, decryption."""

from __future__ import annotations

from crypto import aead
from crypto.errors import DecryptionError
from crypto.light.authority import key_request_mac, key_response_key
from crypto.light.curve import L, scalar_from_bytes
from crypto.light.derivations import check_upload, data_key, mask
from crypto.light.errors import IntegrityError
from crypto.light.exchange import (
    TAG_ACCESS_REQUEST,
    TAG_KEY_REQUEST,
    AccessRequest,
    KeyRequest,
    KeyResponse,
    Upload,
    new_nonce,
    request_fields,
)
from crypto.light.messages import PatientKey, UserCredential
from crypto.light.schnorr import prove


def access_request(credential: UserCredential, temporary_id: bytes, now: int) -> AccessRequest:
    """Seed 001 user request to the edge, with a proof of holding the warrant."""
    nonce = new_nonce()
    fields = request_fields(TAG_ACCESS_REQUEST, credential.user, temporary_id, now, nonce)
    proof = prove(credential.warrant, fields)
    return AccessRequest(credential.user, temporary_id, now, nonce, proof)


def key_request(credential: UserCredential, temporary_id: bytes, now: int) -> KeyRequest:
    """Seed 001 decryption step, user side: ask the authority for ``a_n``."""
    nonce = new_nonce()
    fields = request_fields(TAG_KEY_REQUEST, credential.user, temporary_id, now, nonce)
    return KeyRequest(
        credential.user, temporary_id, now, nonce, key_request_mac(credential, fields)
    )


def open_key_response(
    credential: UserCredential, request: KeyRequest, response: KeyResponse
) -> PatientKey:
    """Recover ``a_n``; raises :class:`IntegrityError` if the response is not for ``request``."""
    if response.temporary_id != request.temporary_id:
        raise IntegrityError("key response is for another patient")
    try:
        raw = aead.open_sealed(
            key_response_key(credential, request), response.sealed_key, request.temporary_id
        )
    except DecryptionError as exc:
        raise IntegrityError("key response does not open") from exc
    return PatientKey(request.temporary_id, scalar_from_bytes(raw))


def decrypt_upload(key: PatientKey, upload: Upload) -> bytes:
    """Check beta and alpha, then ``x = d1 - mask``, ``Z = xY``, and open ``M'`` under K.

    Raises :class:`IntegrityError` if a check value fails (e.g. ``M'`` was tampered with) and
    :class:`DecryptionError` if the AEAD does not open. Costs one scalar multiplication.
    """
    check_upload(key, upload)
    x = (upload.d1 - mask(key, upload.y)) % L
    z = upload.y * x
    return aead.open_sealed(data_key(x, key, z), upload.ciphertext, upload.header_bytes())
