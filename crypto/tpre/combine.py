"""Combining t verified shares and decrypting as the requester (DESIGN 3.2).

alpha = prod s_i^(lambda_i) (Lagrange at 0) = e(g1, g2)^(b k), and R = C2 / alpha^(1/b).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crypto import aead
from crypto.codec import Reader, Writer, parse
from crypto.errors import ThresholdError
from crypto.groups import G1Element, Group, GTElement
from crypto.groups.params import G1_BYTES, GT_BYTES
from crypto.groups.scalars import inv_mod
from crypto.polynomial import lagrange_at_zero
from crypto.tpre.ciphertext import OwnerCiphertext, dem_key
from crypto.tpre.keys import UserSecretKey
from crypto.tpre.share import VerifiedShare
from crypto.tpre.tags import TAG_REENCRYPTED_CIPHERTEXT, VERSION


@dataclass(frozen=True, slots=True)
class ReEncryptedCiphertext:
    """The owner's ciphertext with alpha = Z^(b k) in place of nothing: what the requester opens."""

    c1: G1Element
    c2: GTElement
    alpha: GTElement
    body: bytes

    def to_bytes(self) -> bytes:
        w = Writer(TAG_REENCRYPTED_CIPHERTEXT, VERSION).fixed(bytes(self.c1), G1_BYTES)
        w.fixed(bytes(self.c2), GT_BYTES).fixed(bytes(self.alpha), GT_BYTES)
        return w.blob(self.body).to_bytes()

    @classmethod
    def from_bytes(cls, group: Group, data: bytes) -> ReEncryptedCiphertext:
        def body(r: Reader) -> ReEncryptedCiphertext:
            r.expect_header(TAG_REENCRYPTED_CIPHERTEXT, VERSION)
            c1 = group.g1_from_bytes(r.fixed(G1_BYTES))
            c2 = group.gt_from_bytes(r.fixed(GT_BYTES))
            alpha = group.gt_from_bytes(r.fixed(GT_BYTES))
            return cls(c1, c2, alpha, r.blob())

        return parse(data, "re-encrypted ciphertext", body)


def combine_shares(
    group: Group, ciphertext: OwnerCiphertext, shares: Sequence[VerifiedShare], threshold: int
) -> ReEncryptedCiphertext:
    """Interpolate exactly ``threshold`` verified shares (extra ones are ignored).

    Raises :class:`ThresholdError` for too few shares or repeated indexes.
    """
    indexes = [s.index for s in shares]
    if len(set(indexes)) != len(indexes):
        raise ThresholdError("shares with repeated node indexes")
    if len(shares) < threshold:
        raise ThresholdError(f"{len(shares)} shares, {threshold} needed")
    chosen = sorted(shares, key=lambda s: s.index)[:threshold]
    lambdas = lagrange_at_zero([s.index for s in chosen], group.order)
    alpha = group.gt_one
    for share, lam in zip(chosen, lambdas, strict=True):
        alpha = alpha * share.share.value**lam
    return ReEncryptedCiphertext(ciphertext.c1, ciphertext.c2, alpha, ciphertext.body)


def decrypt_reencrypted(
    secret: UserSecretKey, ciphertext: ReEncryptedCiphertext, associated_data: bytes = b""
) -> bytes:
    """Open a re-encrypted ciphertext; raises :class:`~crypto.errors.DecryptionError` if wrong."""
    group = secret.group
    blinding = ciphertext.c2 / ciphertext.alpha ** inv_mod(secret.scalar, group.order)
    header = bytes(ciphertext.c1) + bytes(ciphertext.c2)
    return aead.open_sealed(dem_key(blinding), ciphertext.body, header + associated_data)
