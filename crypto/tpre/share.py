"""Re-encryption shares with a proof of correctness, and their verification (DESIGN 3.2).

Node i holds rk_i with e(g1, rk_i) = VK_i and publishes s_i = e(C1, rk_i). The proof is a
Fiat-Shamir sigma protocol for the homomorphism R -> (e(C1, R), e(g1, R)) at the witness rk_i:
commitment (A, B) = (e(C1, T), e(g1, T)) for a uniformly random T in G2, challenge
c = H(context, index, C1, s_i, VK_i, A, B) of :data:`CHALLENGE_BITS` bits (DESIGN 3.2 leaves
its size open; see the constant for why 128), response z = T * rk_i^c.

A share carries the proof as (c, z), not (A, B, z) (encoding version 2; version 1 sent A and B):
the verifier recomputes A = e(C1, z) / s_i^c and B = e(g1, z) / VK_i^c and accepts iff hashing
them gives c again (:func:`verify_share`). That is the usual compact form of a Schnorr-type
proof, with the same soundness: two accepting (c, z) for one (A, B) give rk_i. It makes a share
692 bytes instead of 1,828 (every granted request stores t of them in its block) and decoding
tests one GT element for membership instead of three. The price: (A, B) are no longer at hand,
so shares cannot be folded into one random-linear-combination check; each costs two pairings.
Measured on mcl (docs/performance.md), decoding and verifying one share costs about what it did
(the two GT membership tests it drops cost about as much as the pairing it adds); a batch of
three costs about a tenth more than the folded check did.

DESIGN 3.2 writes T = g2^tau. The prover here usually draws the same uniform T as rk_i^u
instead, which turns the commitment's pairing into GT exponentiations of values it already has
(see :func:`reencryption_share`); the proof and its distribution are unchanged.

What the check proves: decoding refuses a share whose s_i lies outside GT (VK_i comes from the
checked grant), so the recomputed A and B are in GT too, and the challenge is a hash of them
as in the interactive protocol. The check is deterministic, so all nodes agree on every share.

Cost on mcl, per share: the prover makes one pairing with rk_i's precomputed Miller-loop lines
(kept on the :class:`~crypto.tpre.grant.VerifiedReKeyShare`), two GT exponentiations and one G2
multiplication; decoding makes one GT membership test (:mod:`crypto.groups.mcl_gt`, about
0.18 ms) and a G2 subgroup check, and the verifier two pairings and two 128-bit GT
exponentiations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crypto.codec import Reader, Writer, parse
from crypto.errors import VerificationError
from crypto.groups import G1Element, G2Element, Group, GTElement
from crypto.groups.params import G2_BYTES, GT_BYTES
from crypto.hashing import digest
from crypto.tpre.grant import VerifiedReKeyShare
from crypto.tpre.tags import LABEL_SHARE_PROOF, SHARE_VERSION, TAG_REENCRYPTION_SHARE

#: Fiat-Shamir challenges are 128-bit. By special soundness a cheating prover wins with
#: probability 2^-128 per hash query, which is already the security level of BLS12-381, so a
#: 255-bit challenge would buy nothing; the shorter one makes the verifier's s_i^c and VK_i^c
#: about a fifth cheaper on mcl, and the share 16 bytes shorter.
CHALLENGE_BITS = 128
CHALLENGE_BYTES = CHALLENGE_BITS // 8


@dataclass(frozen=True, slots=True)
class ReEncryptionShare:
    """Node ``index``'s share s_i for one request, with its proof (c, z).

    s_i is an element of GT: :meth:`from_bytes` refuses anything else, and the prover only
    makes such. The verifier relies on it. ``challenge`` is c, below 2^:data:`CHALLENGE_BITS`
    (construction raises ``ValueError`` otherwise, so every share can be encoded).
    """

    index: int
    value: GTElement
    challenge: int
    response: G2Element

    def __post_init__(self) -> None:
        if not 0 <= self.challenge < 1 << CHALLENGE_BITS:
            raise ValueError(f"a share's challenge has {CHALLENGE_BITS} bits")

    def to_bytes(self) -> bytes:
        w = Writer(TAG_REENCRYPTION_SHARE, SHARE_VERSION).u16(self.index)
        w.fixed(bytes(self.value), GT_BYTES)
        w.fixed(self.challenge.to_bytes(CHALLENGE_BYTES, "big"), CHALLENGE_BYTES)
        return w.fixed(bytes(self.response), G2_BYTES).to_bytes()

    @classmethod
    def from_bytes(cls, group: Group, data: bytes) -> ReEncryptionShare:
        def body(r: Reader) -> ReEncryptionShare:
            r.expect_header(TAG_REENCRYPTION_SHARE, SHARE_VERSION)
            index = r.u16()
            # s_i must be in GT: the verifier's argument needs it (module docstring).
            value = group.gt_from_bytes(r.fixed(GT_BYTES))
            challenge = int.from_bytes(r.fixed(CHALLENGE_BYTES), "big")
            return cls(index, value, challenge, group.g2_from_bytes(r.fixed(G2_BYTES)))

        return parse(data, "re-encryption share", body)


@dataclass(frozen=True, slots=True)
class VerifiedShare:
    """A share whose proof held for one ciphertext and context; made only by the verifiers here
    and, for its maker, :func:`own_reencryption_share`."""

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
    return int.from_bytes(h[:CHALLENGE_BYTES], "big")


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
    return ReEncryptionShare(rekey.index, value, c, response)


def own_reencryption_share(
    group: Group,
    rekey: VerifiedReKeyShare,
    c1: G1Element,
    context: bytes,
    c1_pairing: GTElement | None = None,
) -> VerifiedShare:
    """:func:`reencryption_share`, already counted as verified for the node that makes it.

    The honest prover's proof always holds (completeness) and ``rekey`` passed its check
    against VK_i, so checking a share one just made would only repeat two pairings.
    """
    return VerifiedShare(reencryption_share(group, rekey, c1, context, c1_pairing))


def verify_share(
    group: Group,
    share: ReEncryptionShare,
    verification_key: GTElement,
    c1: G1Element,
    context: bytes,
) -> VerifiedShare:
    """Raise :class:`VerificationError` unless ``share`` is node i's correct share for ``c1``.

    Recomputes the commitment A = e(C1, z) / s_i^c, B = e(g1, z) / VK_i^c and checks that it
    hashes to c. See the module docstring for what this proves.
    """
    c, z = share.challenge, share.response
    commitment_a = group.pairing(c1, z) / share.value**c
    commitment_b = group.pairing(group.g1, z) / verification_key**c
    expected = _challenge(
        context, c1, share.index, share.value, verification_key, commitment_a, commitment_b
    )
    if expected != c:
        raise VerificationError(f"share {share.index}: proof does not verify")
    return VerifiedShare(share)


def verify_shares_batch(
    group: Group,
    shares: Sequence[ReEncryptionShare],
    verification_keys: dict[int, GTElement],
    c1: G1Element,
    context: bytes,
) -> list[VerifiedShare]:
    """Verify several shares of one ciphertext, from distinct known nodes.

    Each share is checked alone (:func:`verify_share`): a compact proof (c, z) cannot be folded
    into one random linear combination, since the check needs each share's commitment, which
    it recomputes. Raises :class:`VerificationError` for a repeated or unknown index, or naming
    every share that does not verify.
    """
    seen: set[int] = set()
    for share in shares:
        if share.index in seen or share.index not in verification_keys:
            raise VerificationError(f"share index {share.index} is repeated or unknown")
        seen.add(share.index)
    verified, bad = [], []
    for share in shares:
        try:
            verified.append(
                verify_share(group, share, verification_keys[share.index], c1, context)
            )
        except VerificationError:
            bad.append(share.index)
    if bad:
        raise VerificationError(f"shares from nodes {bad} do not verify")
    return verified
