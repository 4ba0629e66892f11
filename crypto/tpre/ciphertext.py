"""KEM-DEM encryption of metadata to a record owner (DESIGN 3.2).

C1 = X1_A^k and C2 = R * Z^k hide a random R in GT; the payload is sealed with XChaCha20-Poly1305
under a key derived from R, with (C1, C2) and the caller's associated data authenticated.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto import aead
from crypto.codec import Reader, Writer, parse
from crypto.groups import G1Element, Group, GTElement
from crypto.groups.params import G1_BYTES, GT_BYTES
from crypto.groups.scalars import inv_mod
from crypto.kdf import derive_key
from crypto.tpre.keys import UserPublicKey, UserSecretKey
from crypto.tpre.tags import LABEL_DEM_KEY, TAG_OWNER_CIPHERTEXT, VERSION


@dataclass(frozen=True, slots=True)
class OwnerCiphertext:
    """A record's metadata encrypted to its owner: (C1, C2, body)."""

    c1: G1Element
    c2: GTElement
    body: bytes

    def header_bytes(self) -> bytes:
        return bytes(self.c1) + bytes(self.c2)

    def to_bytes(self) -> bytes:
        w = Writer(TAG_OWNER_CIPHERTEXT, VERSION)
        w.fixed(bytes(self.c1), G1_BYTES).fixed(bytes(self.c2), GT_BYTES)
        return w.blob(self.body).to_bytes()

    @classmethod
    def read(cls, group: Group, r: Reader) -> OwnerCiphertext:
        r.expect_header(TAG_OWNER_CIPHERTEXT, VERSION)
        c1 = group.g1_from_bytes(r.fixed(G1_BYTES))
        c2 = group.gt_from_bytes(r.fixed(GT_BYTES))
        return cls(c1, c2, r.blob())

    @classmethod
    def from_bytes(cls, group: Group, data: bytes) -> OwnerCiphertext:
        return parse(data, "owner ciphertext", lambda r: cls.read(group, r))


def dem_key(blinding: GTElement) -> bytes:
    return derive_key(LABEL_DEM_KEY, bytes(blinding))


def encrypt_to_owner(
    group: Group, owner: UserPublicKey, plaintext: bytes, associated_data: bytes = b""
) -> OwnerCiphertext:
    """Encrypt ``plaintext`` so that ``owner`` (directly) or t nodes plus a grantee can open it."""
    k = group.random_scalar()
    rho = group.random_scalar()
    blinding = group.z_pow(rho)
    c1 = owner.x1 * k
    c2 = group.z_pow(rho + k)  # R * Z^k with R = Z^rho
    header = bytes(c1) + bytes(c2)
    body = aead.seal(dem_key(blinding), plaintext, header + associated_data)
    return OwnerCiphertext(c1, c2, body)


def decrypt_as_owner(
    secret: UserSecretKey, ciphertext: OwnerCiphertext, associated_data: bytes = b""
) -> bytes:
    """R = C2 / e(C1, g2)^(1/a); raises :class:`~crypto.errors.DecryptionError` on a wrong key."""
    group = secret.group
    exponent = inv_mod(secret.scalar, group.order)
    blinding = ciphertext.c2 / group.pairing(ciphertext.c1, group.g2) ** exponent
    return aead.open_sealed(
        dem_key(blinding), ciphertext.body, ciphertext.header_bytes() + associated_data
    )
