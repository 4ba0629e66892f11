"""Proof that whoever made a domain-key ciphertext knows its randomness ``r`` (``C1 = gamma2^r``).

Why it exists: nodes answer a request with ``e(X1_D, C1')^(sigma_i)``, which is a blinding for
whatever ``C1'`` the request carries. Without this proof a member authorized for its own record
R could publish ``C1'_R = C1'_S^lambda`` copied from a victim record S, have the shares of R
combined into ``e(g0, C1'_S)^(d p2 lambda)``, raise that to ``1/(d lambda)`` and open S
(rejecting duplicate ``C1'`` values does not help, ``lambda`` makes them all different).

The fix is TDH2's (Shoup-Gennaro): every ``C1`` carries a Schnorr proof of knowledge of ``r``,
made non-interactive by Fiat-Shamir and bound to the record it belongs to:
``A = gamma2^k``, ``c = H(chain id, record id, owner id, gamma2, C0, C1, A)``, ``z = k + c r``;
accept iff ``gamma2^z = A C1^c``. A mauled ``C1`` has no proof unless its maker knows its
discrete logarithm, and anyone who knows ``lambda r_S`` already knows ``r_S``. A proof copied
from S names S's record id and owner, so it does not verify for R. ``C0`` is hashed too because
``C0`` and ``C1`` are what survives ReEncrypt_ECL (and what the body's AEAD data binds), so the
proof names the ciphertext as a whole, not only its ``C1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.dual.params import DualParams
from crypto.groups import G2Element, GTElement
from crypto.groups.params import G2_BYTES, SCALAR_BYTES
from crypto.groups.scalars import scalar_from_bytes, scalar_to_bytes
from crypto.hashing import digest_to_int

C1_PROOF_TYPE_TAG = tags.DUAL_C1_PROOF
C1_PROOF_VERSION = 1
C1_PROOF_BYTES = 2 + G2_BYTES + SCALAR_BYTES
CHALLENGE_LABEL = b"iomtshare/dual/c1-proof/v1"
#: Record, owner and chain ids are hashes on the ledger (32 bytes); this only bounds them.
MAX_ID_BYTES = 256


@dataclass(frozen=True, slots=True)
class ProofContext:
    """What a ciphertext's proof is bound to: the record it is published as and its owner.

    ``chain_id`` names the network when the caller knows it (records of one network then cannot
    be replayed on another); prover and verifier must give the same one. Raises ``ValueError``
    for an empty record or owner id or an id longer than :data:`MAX_ID_BYTES`.
    """

    record_id: bytes
    owner_id: bytes
    chain_id: bytes = b""

    def __post_init__(self) -> None:
        if not self.record_id or not self.owner_id:
            raise ValueError("a proof context needs a record id and an owner id")
        for name in ("record_id", "owner_id", "chain_id"):
            if len(getattr(self, name)) > MAX_ID_BYTES:
                raise ValueError(f"{name} longer than {MAX_ID_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class C1Proof:
    """``(A, z)`` as in the module docstring; exactly :data:`C1_PROOF_BYTES` when encoded."""

    commitment: G2Element
    response: int

    def to_bytes(self) -> bytes:
        writer = Writer(C1_PROOF_TYPE_TAG, C1_PROOF_VERSION)
        writer.fixed(bytes(self.commitment), G2_BYTES)
        return writer.raw(scalar_to_bytes(self.response)).to_bytes()

    @classmethod
    def from_bytes(cls, params: DualParams, data: bytes) -> C1Proof:
        """Decode; raises :class:`~crypto.errors.DecodeError` (wrong size, tag or version, a
        point off the curve or outside G2, a response not reduced modulo the group order)."""

        def body(reader: Reader) -> C1Proof:
            reader.expect_header(C1_PROOF_TYPE_TAG, C1_PROOF_VERSION)
            commitment = params.group.g2_from_bytes(reader.fixed(G2_BYTES))
            return cls(commitment, scalar_from_bytes(reader.fixed(SCALAR_BYTES)))

        return parse(data, "C1 proof", body)


def challenge(
    params: DualParams,
    context: ProofContext,
    c0: GTElement,
    c1: G2Element,
    commitment: G2Element,
) -> int:
    """The Fiat-Shamir challenge: every statement element hashed, each part length-prefixed."""
    return digest_to_int(
        CHALLENGE_LABEL,
        params.order,
        context.chain_id,
        context.record_id,
        context.owner_id,
        bytes(params.gamma2),
        bytes(c0),
        bytes(c1),
        bytes(commitment),
    )


def prove_c1(
    params: DualParams,
    r: int,
    c0: GTElement,
    c1: G2Element,
    context: ProofContext,
    *,
    nonce: int | None = None,
) -> C1Proof:
    """Prove knowledge of ``r`` with ``c1 = gamma2^r``, bound to ``context`` and ``c0``.

    ``nonce`` (``k``) is for test vectors only; leave it ``None``. A reused nonce reveals ``r``.
    """
    k = params.random_scalar() if nonce is None else nonce % params.order
    commitment = params.gamma2 * k
    c = challenge(params, context, c0, c1, commitment)
    return C1Proof(commitment, (k + c * r) % params.order)


def c1_proof_holds(
    params: DualParams,
    proof: C1Proof,
    c0: GTElement,
    c1: G2Element,
    context: ProofContext,
) -> bool:
    """Whether ``proof`` shows knowledge of ``log_gamma2 c1`` for ``c0`` under ``context``
    (two G2 multiplications and one hash)."""
    c = challenge(params, context, c0, c1, proof.commitment)
    return bool(params.gamma2 * proof.response == proof.commitment + c1 * c)
