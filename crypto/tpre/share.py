"""Re-encryption shares with a proof of correctness, and their verification (DESIGN 3.2).

Node i holds rk_i with e(g1, rk_i) = VK_i and publishes s_i = e(C1, rk_i). The proof is a
Fiat-Shamir sigma protocol for the homomorphism R -> (e(C1, R), e(g1, R)) at the witness rk_i:
commitment (A, B) = (e(C1, T), e(g1, T)) for a uniformly random T in G2, challenge
c = H(context, index, C1, s_i, VK_i, A, B) of :data:`CHALLENGE_BITS` bits (DESIGN 3.2 leaves
its size open; see the constant for why 128), response z = T * rk_i^c. The proof's two
equations are e(C1, z) = A s_i^c and e(g1, z) = B VK_i^c. Sending (A, B) rather than c lets
many shares of one ciphertext be verified together with one pairing in all
(:func:`verify_shares_batch`).

DESIGN 3.2 writes T = g2^tau. The prover here usually draws the same uniform T as rk_i^u
instead, which turns the commitment's pairing into GT exponentiations of values it already has
(see :func:`reencryption_share`); the proof and its distribution are unchanged.

Verification (:func:`verify_share`) checks the two equations as one,
e(C1 + w g1, z) = A s_i^c (B VK_i^c)^w, where w is a 128-bit hash of the whole proof. What
this proves: decoding refuses a share whose s_i, A or B lies outside GT (VK_i comes from the
checked grant), so both sides of each equation are in GT, a group of prime order r. Write
the equations as X = 1 and Y = 1; X and Y are fixed before w (which hashes c, itself a hash
of s_i, A and B, and z), and X Y^w = 1 with X or Y not 1 holds for at most one w mod r, so a
wrong share passes with probability about 2^-128 per hash query, as for the proof itself.
Hence a share that passes has X = Y = 1, which is what :func:`verify_shares_batch` tests
with its random weights: a share that passes alone cannot make the batch fail (an earlier
version let A and B carry a factor outside GT, which could cancel for some w and then make the
random batch fail about half the time, forcing every share to be checked alone). The check is
deterministic, so all nodes agree on every share; it does not tell which equation failed.

Cost on mcl, per share: the prover makes one pairing with rk_i's precomputed Miller-loop lines
(kept on the :class:`~crypto.tpre.grant.VerifiedReKeyShare`), two GT exponentiations and one G2
multiplication; decoding makes three GT membership tests (:mod:`crypto.groups.mcl_gt`, about
0.18 ms each), and the verifier one pairing, one 128-bit G1 multiplication and three 128-bit GT
exponentiations.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from crypto.codec import Reader, Writer, parse
from crypto.errors import VerificationError
from crypto.groups import G1Element, G2Element, Group, GTElement
from crypto.groups.params import G2_BYTES, GT_BYTES
from crypto.hashing import digest
from crypto.tpre.grant import VerifiedReKeyShare
from crypto.tpre.tags import (
    LABEL_SHARE_CHECK_WEIGHT,
    LABEL_SHARE_PROOF,
    TAG_REENCRYPTION_SHARE,
    VERSION,
)

_BATCH_WEIGHT_BITS = 128
#: Fiat-Shamir challenges are 128-bit. By special soundness a cheating prover wins with
#: probability 2^-128 per hash query, which is already the security level of BLS12-381, so a
#: 255-bit challenge would buy nothing; the shorter one makes the verifier's s_i^c and VK_i^c
#: about a fifth cheaper on mcl.
CHALLENGE_BITS = 128


@dataclass(frozen=True, slots=True)
class ReEncryptionShare:
    """Node ``index``'s share s_i for one request, with its proof (A, B, z).

    s_i, A and B are elements of GT: :meth:`from_bytes` refuses anything else, and the prover
    only makes such. The verifiers rely on it.
    """

    index: int
    value: GTElement
    commitment_a: GTElement
    commitment_b: GTElement
    response: G2Element

    def to_bytes(self) -> bytes:
        w = Writer(TAG_REENCRYPTION_SHARE, VERSION).u16(self.index)
        w.fixed(bytes(self.value), GT_BYTES)
        w.fixed(bytes(self.commitment_a), GT_BYTES).fixed(bytes(self.commitment_b), GT_BYTES)
        return w.fixed(bytes(self.response), G2_BYTES).to_bytes()

    @classmethod
    def from_bytes(cls, group: Group, data: bytes) -> ReEncryptionShare:
        def body(r: Reader) -> ReEncryptionShare:
            r.expect_header(TAG_REENCRYPTION_SHARE, VERSION)
            index = r.u16()
            # All three must be in GT: the verifiers' argument needs it (module docstring).
            value = group.gt_from_bytes(r.fixed(GT_BYTES))
            a = group.gt_from_bytes(r.fixed(GT_BYTES))
            b = group.gt_from_bytes(r.fixed(GT_BYTES))
            return cls(index, value, a, b, group.g2_from_bytes(r.fixed(G2_BYTES)))

        return parse(data, "re-encryption share", body)


@dataclass(frozen=True, slots=True)
class VerifiedShare:
    """A share whose proof held for one ciphertext and context; made only by the verifiers here."""

    share: ReEncryptionShare

    @property
    def index(self) -> int:
        return self.share.index


def _challenge(
    context: bytes,
    c1: G1Element,
    index: int,
    value: GTElement,
    verification_key: GTElement,
    commitment_a: GTElement,
    commitment_b: GTElement,
) -> int:
    h = digest(
        LABEL_SHARE_PROOF,
        context,
        index.to_bytes(2, "big"),
        bytes(c1),
        bytes(value),
        bytes(verification_key),
        bytes(commitment_a),
        bytes(commitment_b),
    )
    return int.from_bytes(h[: CHALLENGE_BITS // 8], "big")


def _share_challenge(
    context: bytes,
    c1: G1Element,
    share: ReEncryptionShare,
    verification_key: GTElement,
) -> int:
    return _challenge(
        context,
        c1,
        share.index,
        share.value,
        verification_key,
        share.commitment_a,
        share.commitment_b,
    )


def reencryption_share(
    group: Group,
    rekey: VerifiedReKeyShare,
    c1: G1Element,
    context: bytes,
    c1_pairing: GTElement | None = None,
) -> ReEncryptionShare:
    """Node i's share e(C1, rk_i) of the ciphertext whose first component is ``c1``.

    ``context`` binds the proof to one request (e.g. the request id), so a share cannot be
    replayed for another request over the same ciphertext. ``c1_pairing`` is e(C1, g2) if the
    caller keeps it per stored ciphertext; it must have been computed by the caller, never
    taken from a peer.

    The proof's random point T is uniform in G2 and can be written in any base. Without
    ``c1_pairing`` it is T = rk_i^u: then A = e(C1, T) = s_i^u, B = e(g1, T) = VK_i^u and
    z = rk_i^(u + c), so the share costs one pairing (with rk_i's precomputed lines) and two GT
    exponentiations instead of two pairings. rk_i is never the identity (the grant check
    refuses it), so it generates G2 and T, A, B and z have exactly the distribution they have
    with T = g2^tau; the verifier cannot tell and does not need to. With ``c1_pairing`` the
    prover keeps T = g2^tau: A = e(C1, g2)^tau from the cached value, B = Z^tau and T from
    fixed-base tables. The two ways cost about the same (within a few percent).
    """
    rk = rekey.share.rk
    value = rekey.prepared_rk.pairing(c1)
    vk = rekey.verification_key
    if c1_pairing is None:
        u = group.random_scalar()
        a, b = value**u, vk**u
        c = _challenge(context, c1, rekey.index, value, vk, a, b)
        response = rk * ((u + c) % group.order)
    else:
        tau = group.random_scalar()
        a, b = c1_pairing**tau, group.z_pow(tau)
        c = _challenge(context, c1, rekey.index, value, vk, a, b)
        response = group.g2_mul_generator(tau) + rk * c
    return ReEncryptionShare(rekey.index, value, a, b, response)


def _check_weight(challenge: int, response: G2Element) -> int:
    """The weight w of :func:`verify_share`: a hash of the whole proof, so fixed only after it."""
    h = digest(
        LABEL_SHARE_CHECK_WEIGHT, challenge.to_bytes(CHALLENGE_BITS // 8, "big"), bytes(response)
    )
    return int.from_bytes(h[: CHALLENGE_BITS // 8], "big")


def verify_share(
    group: Group,
    share: ReEncryptionShare,
    verification_key: GTElement,
    c1: G1Element,
    context: bytes,
) -> VerifiedShare:
    """Raise :class:`VerificationError` unless ``share`` is node i's correct share for ``c1``.

    The two proof equations are checked as one, e(C1 + w g1, z) = A s_i^c (B VK_i^c)^w, with
    w a 128-bit hash of the whole proof: one pairing instead of two. The result is
    deterministic, so every node reaches the same verdict on a share. See the module docstring
    for what this proves.
    """
    c = _share_challenge(context, c1, share, verification_key)
    weight = _check_weight(c, share.response)
    lhs = group.pairing(c1 + group.g1 * weight, share.response)
    grant_side = (share.commitment_b * verification_key**c) ** weight
    if lhs != share.commitment_a * share.value**c * grant_side:
        raise VerificationError(f"share {share.index}: proof does not verify")
    return VerifiedShare(share)


def verify_shares_batch(
    group: Group,
    shares: Sequence[ReEncryptionShare],
    verification_keys: dict[int, GTElement],
    c1: G1Element,
    context: bytes,
) -> list[VerifiedShare]:
    """Verify several shares of one ciphertext with one pairing in total.

    Share i's equations e(C1, z_i) = A_i s_i^(c_i) and e(g1, z_i) = B_i VK_i^(c_i) are raised
    to the weights w_i and rho w_i (w_i and rho random odd 128-bit numbers) and all multiplied
    into e(C1 + rho g1, sum w_i z_i) = prod (A_i s_i^(c_i))^(w_i) (B_i VK_i^(c_i))^(rho w_i),
    so a share with a wrong s_i passes with probability at most about 2^-126. Every share that
    passes :func:`verify_share` passes here too (module docstring), so a Byzantine node cannot
    make the batch fail with a share that is valid alone. If the combined check fails, each
    share is checked alone and :class:`VerificationError` names the bad ones.
    """
    if not shares:
        return []
    seen: set[int] = set()
    for share in shares:
        if share.index in seen or share.index not in verification_keys:
            raise VerificationError(f"share index {share.index} is repeated or unknown")
        seen.add(share.index)
    order = group.order
    rho = secrets.randbits(_BATCH_WEIGHT_BITS) | 1
    combined_z = group.g2_identity()
    rhs = group.gt_one
    for share in shares:
        weight = secrets.randbits(_BATCH_WEIGHT_BITS) | 1
        vk = verification_keys[share.index]
        c = _share_challenge(context, c1, share, vk)
        combined_z = combined_z + share.response * weight
        ciphertext_side = share.commitment_a * share.value**c
        grant_side = share.commitment_b * vk**c
        rhs = rhs * ciphertext_side**weight * grant_side ** (rho * weight % order)
    if group.pairing(c1 + group.g1 * rho, combined_z) == rhs:
        return [VerifiedShare(s) for s in shares]
    bad = []
    for share in shares:
        try:
            verify_share(group, share, verification_keys[share.index], c1, context)
        except VerificationError:
            bad.append(share.index)
    if bad:
        raise VerificationError(f"shares from nodes {bad} do not verify")
    # Every share passes verify_share, the definition of a valid share. The batch then failed
    # only by a chance of about 2^-126 (module docstring), so its verdict stands.
    return [VerifiedShare(s) for s in shares]
