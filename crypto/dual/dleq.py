"""Chaum-Pedersen proof that a GT element and a G2 element share one discrete logarithm.

A node holding the domain-key share ``sigma`` publishes ``VK = gamma2^sigma`` once and, per
request, ``D = X^sigma`` for a base ``X`` in GT. The proof shows ``log_gamma2 VK = log_X D``
without revealing ``sigma`` (Fiat-Shamir, commitment form so that many proofs can also be checked
together, see :func:`crypto.dual.threshold.verify_decryption_shares`):
``A = gamma2^w``, ``B = X^w``, ``c = H(context, index, VK, X, D, A, B)``, ``z = w + c sigma``;
accept iff ``gamma2^z = A VK^c`` and ``X^z = B D^c``.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.codec import Reader, Writer
from crypto.dual.params import DualParams
from crypto.groups import G2Element, GTElement
from crypto.groups.params import G2_BYTES, GT_BYTES, SCALAR_BYTES
from crypto.groups.scalars import scalar_from_bytes, scalar_to_bytes
from crypto.hashing import digest_to_int

CHALLENGE_TAG = b"iomtshare/dual/domain-share-proof/v1"
PROOF_BYTES = G2_BYTES + GT_BYTES + SCALAR_BYTES


@dataclass(frozen=True, slots=True)
class DleqProof:
    """``(A, B, z)`` as in the module docstring."""

    commitment_g2: G2Element
    commitment_gt: GTElement
    response: int

    def write(self, writer: Writer) -> None:
        writer.fixed(bytes(self.commitment_g2), G2_BYTES)
        writer.fixed(bytes(self.commitment_gt), GT_BYTES)
        writer.raw(scalar_to_bytes(self.response))

    @classmethod
    def read(cls, params: DualParams, reader: Reader) -> DleqProof:
        """Read from a canonical encoding; raises :class:`~crypto.errors.DecodeError`."""
        return cls(
            params.group.g2_from_bytes(reader.fixed(G2_BYTES)),
            params.group.gt_from_bytes(reader.fixed(GT_BYTES)),
            scalar_from_bytes(reader.fixed(SCALAR_BYTES)),
        )


def challenge(
    params: DualParams,
    context: bytes,
    index: int,
    verification_key: G2Element,
    base: GTElement,
    value: GTElement,
    commitment_g2: G2Element,
    commitment_gt: GTElement,
) -> int:
    """The Fiat-Shamir challenge; every statement element is hashed, length-prefixed."""
    return digest_to_int(
        CHALLENGE_TAG,
        params.order,
        context,
        index.to_bytes(2, "big"),
        bytes(params.gamma2),
        bytes(verification_key),
        bytes(base),
        bytes(value),
        bytes(commitment_g2),
        bytes(commitment_gt),
    )


def prove(
    params: DualParams,
    secret: int,
    base: GTElement,
    value: GTElement,
    verification_key: G2Element,
    context: bytes,
    index: int,
) -> DleqProof:
    """Prove ``value = base^secret`` and ``verification_key = gamma2^secret``."""
    w = params.random_scalar()
    commitment_g2 = params.gamma2 * w
    commitment_gt = base**w
    c = challenge(
        params, context, index, verification_key, base, value, commitment_g2, commitment_gt
    )
    return DleqProof(commitment_g2, commitment_gt, (w + c * secret) % params.order)


def verify(
    params: DualParams,
    proof: DleqProof,
    base: GTElement,
    value: GTElement,
    verification_key: G2Element,
    context: bytes,
    index: int,
) -> bool:
    """Whether ``proof`` shows ``log_gamma2 verification_key = log_base value``."""
    c = challenge(
        params,
        context,
        index,
        verification_key,
        base,
        value,
        proof.commitment_g2,
        proof.commitment_gt,
    )
    if params.gamma2 * proof.response != proof.commitment_g2 + verification_key * c:
        return False
    return bool(base**proof.response == proof.commitment_gt * value**c)
