"""Device keys, domain keys and the edge re-encryption key of seed 000 (ReKeyGen, ReKeyUpdate).

A device (DCT) holds ``(u1, u2)`` with public key ``(g0^u1, gamma2^u2)``; the domain ("peculiar")
key is ``(p1, p2)`` with public key ``(g0^p1, gamma2^p2)``. The authority, which generated the
device key, gives the edge ``ReKey = (gamma1 gamma3 pk_p2)^(1/u1)``; anyone can check it with
``e(g0^u1, ReKey) = e(g0, gamma1 gamma3 pk_p2)``. Only ``u1`` and ``p2`` enter encryption and
decryption; ``u2`` and ``p1`` are kept because the seed's key format has them.

Trust, as in the seed: the authority generates device keys, so with ``u1`` it can open that
device's ciphertexts directly (``e(C3, gamma1)^(1/u1) = I0^r``), and it knows ``p2`` while it
deals it. The edge holding a ReKey learns nothing without ``p2``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.dual.params import DualParams
from crypto.errors import DecodeError, VerificationError
from crypto.groups import G1Element, G2Element
from crypto.groups.params import G1_BYTES, G2_BYTES, SCALAR_BYTES
from crypto.groups.scalars import inv_mod, scalar_from_bytes, scalar_to_bytes

DEVICE_PUBLIC_TYPE_TAG = tags.DUAL_DEVICE_PUBLIC_KEY
DOMAIN_PUBLIC_TYPE_TAG = tags.DUAL_DOMAIN_PUBLIC_KEY
REKEY_TYPE_TAG = tags.DUAL_REKEY
DEVICE_SECRET_TYPE_TAG = tags.DUAL_DEVICE_SECRET_KEY
DOMAIN_SECRET_TYPE_TAG = tags.DUAL_DOMAIN_SECRET_KEY
KEY_VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)


def _nonzero_scalar(reader: Reader) -> int:
    value = scalar_from_bytes(reader.fixed(SCALAR_BYTES))
    if value == 0:
        raise DecodeError("secret scalar is zero")
    return value


@dataclass(frozen=True, slots=True)
class DevicePublicKey:
    """``(g0^u1, gamma2^u2)``."""

    pk1: G1Element
    pk2: G2Element

    def to_bytes(self) -> bytes:
        writer = Writer(DEVICE_PUBLIC_TYPE_TAG, KEY_VERSION)
        return writer.fixed(bytes(self.pk1), G1_BYTES).fixed(bytes(self.pk2), G2_BYTES).to_bytes()

    @classmethod
    def from_bytes(cls, params: DualParams, data: bytes) -> DevicePublicKey:
        """Decode; raises :class:`DecodeError` (also for identity points)."""

        def body(reader: Reader) -> DevicePublicKey:
            reader.expect_header(DEVICE_PUBLIC_TYPE_TAG, KEY_VERSION)
            pk1 = params.group.g1_from_bytes(reader.fixed(G1_BYTES))
            pk2 = params.group.g2_from_bytes(reader.fixed(G2_BYTES))
            if pk1.is_identity() or pk2.is_identity():
                raise DecodeError("device public key: identity point")
            return cls(pk1, pk2)

        return parse(data, "device public key", body)


class DeviceSecretKey:
    """``(u1, u2)``. Held by the authority (for ReKeyGen) and the device; repr hides it."""

    __slots__ = ("u1", "u2")

    def __init__(self, u1: int, u2: int) -> None:
        self.u1 = u1
        self.u2 = u2

    @classmethod
    def generate(cls, params: DualParams) -> DeviceSecretKey:
        return cls(params.random_scalar(), params.random_scalar())

    def public_key(self, params: DualParams) -> DevicePublicKey:
        return DevicePublicKey(params.g0 * self.u1, params.gamma2 * self.u2)

    def __repr__(self) -> str:
        return "DeviceSecretKey(<secret>)"

    def to_bytes(self) -> bytes:
        writer = Writer(DEVICE_SECRET_TYPE_TAG, KEY_VERSION)
        return writer.raw(scalar_to_bytes(self.u1)).raw(scalar_to_bytes(self.u2)).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> DeviceSecretKey:
        def body(reader: Reader) -> DeviceSecretKey:
            reader.expect_header(DEVICE_SECRET_TYPE_TAG, KEY_VERSION)
            return cls(_nonzero_scalar(reader), _nonzero_scalar(reader))

        return parse(data, "device secret key", body)


@dataclass(frozen=True, slots=True)
class DomainPublicKey:
    """``(g0^p1, gamma2^p2)``; ``pk2`` is the key every normalized ciphertext is under."""

    pk1: G1Element
    pk2: G2Element

    def to_bytes(self) -> bytes:
        writer = Writer(DOMAIN_PUBLIC_TYPE_TAG, KEY_VERSION)
        return writer.fixed(bytes(self.pk1), G1_BYTES).fixed(bytes(self.pk2), G2_BYTES).to_bytes()

    @classmethod
    def from_bytes(cls, params: DualParams, data: bytes) -> DomainPublicKey:
        """Decode; raises :class:`DecodeError` (also for identity points)."""

        def body(reader: Reader) -> DomainPublicKey:
            reader.expect_header(DOMAIN_PUBLIC_TYPE_TAG, KEY_VERSION)
            pk1 = params.group.g1_from_bytes(reader.fixed(G1_BYTES))
            pk2 = params.group.g2_from_bytes(reader.fixed(G2_BYTES))
            if pk1.is_identity() or pk2.is_identity():
                raise DecodeError("domain public key: identity point")
            return cls(pk1, pk2)

        return parse(data, "domain public key", body)


class DomainSecretKey:
    """``(p1, p2)``: the domain ("peculiar") secret. In the threshold setting only the
    authority ever holds it, long enough to deal ``p2``; repr hides it."""

    __slots__ = ("_points", "p1", "p2")

    def __init__(self, p1: int, p2: int) -> None:
        self.p1 = p1
        self.p2 = p2
        self._points: dict[str, G1Element] = {}

    def decryption_point(self, params: DualParams) -> G1Element:
        """``g0^p2``, cached per backend: decryption then costs one pairing and no G1 work."""
        point = self._points.get(params.group.name)
        if point is None:
            point = self._points[params.group.name] = params.g0 * self.p2
        return point

    @classmethod
    def generate(cls, params: DualParams) -> DomainSecretKey:
        return cls(params.random_scalar(), params.random_scalar())

    def public_key(self, params: DualParams) -> DomainPublicKey:
        return DomainPublicKey(params.g0 * self.p1, params.gamma2 * self.p2)

    def __repr__(self) -> str:
        return "DomainSecretKey(<secret>)"

    def to_bytes(self) -> bytes:
        writer = Writer(DOMAIN_SECRET_TYPE_TAG, KEY_VERSION)
        return writer.raw(scalar_to_bytes(self.p1)).raw(scalar_to_bytes(self.p2)).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> DomainSecretKey:
        def body(reader: Reader) -> DomainSecretKey:
            reader.expect_header(DOMAIN_SECRET_TYPE_TAG, KEY_VERSION)
            return cls(_nonzero_scalar(reader), _nonzero_scalar(reader))

        return parse(data, "domain secret key", body)


@dataclass(frozen=True, slots=True)
class ReKey:
    """The edge's key ``(gamma1 gamma3 pk_p2)^(1/u1)`` from one device to the domain."""

    point: G2Element

    def to_bytes(self) -> bytes:
        return Writer(REKEY_TYPE_TAG, KEY_VERSION).fixed(bytes(self.point), G2_BYTES).to_bytes()

    @classmethod
    def from_bytes(cls, params: DualParams, data: bytes) -> ReKey:
        def body(reader: Reader) -> ReKey:
            reader.expect_header(REKEY_TYPE_TAG, KEY_VERSION)
            point = params.group.g2_from_bytes(reader.fixed(G2_BYTES))
            if point.is_identity():
                raise DecodeError("re-encryption key: identity point")
            return cls(point)

        return parse(data, "re-encryption key", body)


def _rekey_target(params: DualParams, domain: DomainPublicKey) -> G2Element:
    return params.gamma1 + params.gamma3 + domain.pk2


def rekey_gen(params: DualParams, device: DeviceSecretKey, domain: DomainPublicKey) -> ReKey:
    """ReKeyGen: the edge key from ``device`` to ``domain`` (run by the authority).

    :func:`rekey_update` repeats it for every device when the domain key rotates.
    """
    return ReKey(_rekey_target(params, domain) * inv_mod(device.u1, params.order))


def verify_rekey(
    params: DualParams, device: DevicePublicKey, domain: DomainPublicKey, rekey: ReKey
) -> None:
    """Raise :class:`VerificationError` unless ``rekey`` takes ``device`` to ``domain``."""
    grp = params.group
    check = grp.pairing_product(
        [(device.pk1, rekey.point), (-params.g0, _rekey_target(params, domain))]
    )
    if not check.is_one():
        raise VerificationError("re-encryption key does not match the device and domain keys")


def rekey_update(
    params: DualParams, devices: Iterable[DeviceSecretKey], new_domain: DomainPublicKey
) -> list[ReKey]:
    """ReKeyUpdate: new edge keys for every registered device after the domain key rotates.

    Devices keep their keys; records normalized before the rotation stay under the old
    domain key (re-encrypting them is the owner's choice, not implied by the rotation).
    """
    return [rekey_gen(params, device, new_domain) for device in devices]
