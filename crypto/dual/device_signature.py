"""A device's signature on what it sends its edge: a Schnorr proof of knowledge of ``u1``.

Encrypt_DCT needs only a device's *public* key and the C1 proof only shows its maker knows its
own randomness, so neither says who made a ciphertext. This signature does: a device holding
``(u1, u2)`` with ``pk1 = g0^u1`` (:mod:`crypto.dual.keys`) signs a message by proving it
knows ``u1``, made non-interactive by Fiat-Shamir over the message:

``A = g0^k``, ``c = H(label, chain id, device id, pk1, A, message)``, ``z = k + c u1``;
accept iff ``g0^z = A pk1^c``.

Every part of the hash is length-prefixed (:func:`crypto.hashing.digest_to_int`) under a label
of its own, so a signature cannot be read as a C1 proof or as one for another chain, device or
key. No new key material: the device already holds ``u1``, and the authority, which generated
it, could sign too (it can already open the device's ciphertexts; see :mod:`crypto.dual.keys`).
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.dual.keys import DevicePublicKey, DeviceSecretKey
from crypto.dual.params import DualParams
from crypto.errors import VerificationError
from crypto.groups import G1Element
from crypto.groups.params import G1_BYTES, SCALAR_BYTES
from crypto.groups.scalars import scalar_from_bytes, scalar_to_bytes
from crypto.hashing import digest_to_int

DEVICE_SIGNATURE_TYPE_TAG = tags.DUAL_DEVICE_SIGNATURE
DEVICE_SIGNATURE_VERSION = 1
DEVICE_SIGNATURE_BYTES = 2 + G1_BYTES + SCALAR_BYTES
CHALLENGE_LABEL = b"iomtshare/dual/device-signature/v1"


@dataclass(frozen=True, slots=True)
class DeviceSignature:
    """``(A, z)`` as in the module docstring; exactly :data:`DEVICE_SIGNATURE_BYTES` encoded."""

    commitment: G1Element
    response: int

    def to_bytes(self) -> bytes:
        writer = Writer(DEVICE_SIGNATURE_TYPE_TAG, DEVICE_SIGNATURE_VERSION)
        writer.fixed(bytes(self.commitment), G1_BYTES)
        return writer.raw(scalar_to_bytes(self.response)).to_bytes()

    @classmethod
    def from_bytes(cls, params: DualParams, data: bytes) -> DeviceSignature:
        """Decode; raises :class:`~crypto.errors.DecodeError` (wrong size, tag or version, a
        point off the curve or outside G1, a response not reduced modulo the group order)."""

        def body(reader: Reader) -> DeviceSignature:
            reader.expect_header(DEVICE_SIGNATURE_TYPE_TAG, DEVICE_SIGNATURE_VERSION)
            commitment = params.group.g1_from_bytes(reader.fixed(G1_BYTES))
            return cls(commitment, scalar_from_bytes(reader.fixed(SCALAR_BYTES)))

        return parse(data, "device signature", body)


def _challenge(
    params: DualParams,
    chain_id: bytes,
    device_id: bytes,
    pk1: G1Element,
    commitment: G1Element,
    message: bytes,
) -> int:
    return digest_to_int(
        CHALLENGE_LABEL,
        params.order,
        chain_id,
        device_id,
        bytes(pk1),
        bytes(commitment),
        message,
    )


def sign(
    params: DualParams,
    secret: DeviceSecretKey,
    chain_id: bytes,
    device_id: bytes,
    message: bytes,
    *,
    nonce: int | None = None,
) -> DeviceSignature:
    """Sign ``message`` for device ``device_id`` on chain ``chain_id`` with ``u1``.

    ``nonce`` (``k``) is for test vectors only; leave it ``None``. A reused nonce reveals ``u1``.
    """
    k = params.random_scalar() if nonce is None else nonce % params.order
    commitment = params.g0 * k
    pk1 = params.g0 * secret.u1  # only pk1 is needed: skip the G2 half of public_key()
    c = _challenge(params, chain_id, device_id, pk1, commitment, message)
    return DeviceSignature(commitment, (k + c * secret.u1) % params.order)


def verify(
    params: DualParams,
    public: DevicePublicKey,
    chain_id: bytes,
    device_id: bytes,
    message: bytes,
    signature: DeviceSignature,
) -> None:
    """Raise :class:`VerificationError` unless ``signature`` is the device's (``public``) on
    ``message`` for ``device_id`` and ``chain_id`` (two G1 multiplications and one hash)."""
    c = _challenge(params, chain_id, device_id, public.pk1, signature.commitment, message)
    if params.g0 * signature.response != signature.commitment + public.pk1 * c:
        raise VerificationError("the device signature does not hold for this device and message")
