"""Threshold decryption of normalized ciphertexts for one requester.

Seed 000 gives the whole domain secret ``p2`` to every authorized requester, after which that
requester can read every record of the domain. Here ``p2`` is dealt to the consensus nodes
(:mod:`crypto.dual.dealing`) and never leaves them.

For a requester with ``X1_D = g0^d`` and a verified normalized ciphertext, the request base is
``X = e(X1_D, C1')``. Node ``i`` answers ``D_i = X^(sigma_i)`` with a Chaum-Pedersen proof;
any ``t`` verified answers combine by Lagrange interpolation in the exponent into
``X^p2 = e(g0, C1')^(d p2)``, which only the requester can turn into the blinding
``e(g0, C1')^p2`` (by raising it to ``1/d``). Answers are bound to the requester, the ciphertext
and a caller context (e.g. the request id), so they cannot be replayed elsewhere. ``X1_D`` is
the same point as a threshold-PRE user's ``X1`` (both are ``g1^d``), so one user key serves
both sharing paths.

A node raises whatever base it is handed to its share, so the ciphertext must be one whose
maker proved knowledge of ``r`` for this very record
(:func:`~crypto.dual.ciphertext.verify_ciphertext`): a request can only be built from a
:class:`~crypto.dual.ciphertext.VerifiedCiphertext`, and a node takes that from the committed
record the request names, never from the request itself. Otherwise ``C1'_R = C1'_S^lambda``
turns shares for R into a key for S (see :mod:`crypto.dual.proof`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import InitVar, dataclass, field

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.dual import dleq
from crypto.dual.ciphertext import VerifiedCiphertext, open_with_blinding
from crypto.dual.dealing import DomainKeyDealing, DomainKeyShare
from crypto.dual.params import DualParams
from crypto.errors import DecodeError, ThresholdError, VerificationError
from crypto.groups import G1Element, GTElement
from crypto.groups.params import GT_BYTES
from crypto.groups.scalars import inv_mod
from crypto.hashing import digest
from crypto.polynomial import lagrange_at_zero

DECRYPTION_SHARE_TYPE_TAG = tags.DUAL_DECRYPTION_SHARE
THRESHOLD_VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)
REQUEST_TAG = b"iomtshare/dual/decryption-request/v2"  # v2: binds the record context


@dataclass(frozen=True, slots=True)
class DecryptionRequest:
    """What a node answers: a verified ciphertext, the requester's ``X1_D`` and the context.

    ``base`` is ``X = e(X1_D, C1')``, one pairing computed here from the verified ``C1'`` and
    never taken from the caller. Raises :class:`VerificationError` for the identity as
    requester key and ``TypeError`` for a ciphertext that did not go through
    :func:`~crypto.dual.ciphertext.verify_ciphertext` (mypy refuses it too).
    """

    params: InitVar[DualParams]
    ciphertext: VerifiedCiphertext
    requester: G1Element
    context: bytes
    base: GTElement = field(init=False)

    def __post_init__(self, params: DualParams) -> None:
        # Untyped callers (and the old API) would otherwise hand over an unchecked C1.
        if not isinstance(self.ciphertext, VerifiedCiphertext):
            raise TypeError(
                "a decryption request needs a VerifiedCiphertext (see verify_ciphertext), "
                f"not {type(self.ciphertext).__name__}"
            )
        if self.requester.is_identity():
            raise VerificationError("requester public key is the identity")
        base = params.group.pairing(self.requester, self.ciphertext.ciphertext.c1)
        object.__setattr__(self, "base", base)

    @classmethod
    def create(
        cls,
        params: DualParams,
        ciphertext: VerifiedCiphertext,
        requester: G1Element,
        context: bytes,
    ) -> DecryptionRequest:
        """The same as calling the class; kept for readability at call sites."""
        return cls(params, ciphertext, requester, context)

    @property
    def proof_context(self) -> bytes:
        """What every proof of this request is bound to: the caller context, the record the
        ciphertext was verified for, the requester and the base."""
        record = self.ciphertext.context
        return digest(
            REQUEST_TAG,
            self.context,
            record.chain_id,
            record.record_id,
            record.owner_id,
            bytes(self.requester),
            bytes(self.base),
        )


@dataclass(frozen=True, slots=True)
class DecryptionShare:
    """Node ``index``'s answer ``D_i = X^(sigma_i)`` with its proof."""

    index: int
    value: GTElement
    proof: dleq.DleqProof

    def to_bytes(self) -> bytes:
        writer = Writer(DECRYPTION_SHARE_TYPE_TAG, THRESHOLD_VERSION).u16(self.index)
        writer.fixed(bytes(self.value), GT_BYTES)
        self.proof.write(writer)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, params: DualParams, data: bytes) -> DecryptionShare:
        """Decode; raises :class:`DecodeError`."""

        def body(reader: Reader) -> DecryptionShare:
            reader.expect_header(DECRYPTION_SHARE_TYPE_TAG, THRESHOLD_VERSION)
            index = reader.u16()
            if index == 0:
                raise DecodeError("decryption share: index 0")
            value = params.group.gt_from_bytes(reader.fixed(GT_BYTES))
            return cls(index, value, dleq.DleqProof.read(params, reader))

        return parse(data, "decryption share", body)


@dataclass(frozen=True, slots=True)
class VerifiedDecryptionShare:
    """A share whose proof held for the request named by ``request_digest``.

    Only :func:`verify_decryption_share`, :func:`verify_decryption_shares` and, for the
    node's own share, :func:`own_decryption_share` make these;
    :func:`combine_decryption_shares` accepts nothing else.
    """

    share: DecryptionShare
    request_digest: bytes


def decryption_share(
    params: DualParams, share: DomainKeyShare, request: DecryptionRequest
) -> DecryptionShare:
    """A node's answer to ``request`` with its domain key share (one GT exponentiation plus
    the proof). ``request`` holds a :class:`VerifiedCiphertext` by construction."""
    value = request.base**share.sigma
    proof = dleq.prove(
        params,
        share.sigma,
        request.base,
        value,
        params.gamma2 * share.sigma,
        request.proof_context,
        share.index,
    )
    return DecryptionShare(share.index, value, proof)


def own_decryption_share(
    params: DualParams, share: DomainKeyShare, request: DecryptionRequest
) -> VerifiedDecryptionShare:
    """:func:`decryption_share`, already counted as verified for the node that makes it (its
    domain share was checked against VK_i when loaded, and the honest proof always holds)."""
    return VerifiedDecryptionShare(decryption_share(params, share, request), request.proof_context)


def verify_decryption_share(
    params: DualParams,
    dealing: DomainKeyDealing,
    request: DecryptionRequest,
    share: DecryptionShare,
) -> VerifiedDecryptionShare:
    """Check one share; raises :class:`VerificationError` naming the node if it is wrong."""
    context = request.proof_context
    vk = dealing.verification_key(share.index)
    if not dleq.verify(params, share.proof, request.base, share.value, vk, context, share.index):
        raise VerificationError(f"decryption share of node {share.index} failed its proof")
    return VerifiedDecryptionShare(share, context)


@dataclass(frozen=True, slots=True)
class ShareCheck:
    """The outcome of :func:`verify_decryption_shares`."""

    verified: tuple[VerifiedDecryptionShare, ...]
    rejected: tuple[int, ...]


def verify_decryption_shares(
    params: DualParams,
    dealing: DomainKeyDealing,
    request: DecryptionRequest,
    shares: Iterable[DecryptionShare],
) -> ShareCheck:
    """Check many shares of one request together.

    Uses a random linear combination: with 128-bit weights ``rho_i`` it checks
    ``gamma2^(sum rho z) = sum rho A + prod_j F_j^(sum rho c i^j)`` (the verification keys folded
    back into the t dealing commitments, so n shares cost t G2 multiplications there, not n) and
    ``X^(sum rho z) = prod B^rho D^(rho c)``. A wrong share passes with probability about
    2^-128. If the combined check fails, each share is checked alone so that the bad ones are
    named in :attr:`ShareCheck.rejected`.
    Raises :class:`ThresholdError` for repeated or out-of-range indexes.
    """
    batch = list(shares)
    if not batch:
        return ShareCheck((), ())
    indexes = [s.index for s in batch]
    if len(set(indexes)) != len(indexes):
        raise ThresholdError("a node answered twice")
    context = request.proof_context
    order = params.order
    keys = [dealing.verification_key(i) for i in indexes]
    exponent = 0
    folded = [0] * dealing.threshold  # sum over shares of rho c i^j, per commitment F_j
    g2_side = params.group.g2_identity()
    gt_side = params.group.gt_one
    for share, vk in zip(batch, keys, strict=True):
        rho = secrets.randbits(128) | 1
        proof = share.proof
        c = dleq.challenge(
            params,
            context,
            share.index,
            vk,
            request.base,
            share.value,
            proof.commitment_g2,
            proof.commitment_gt,
        )
        exponent = (exponent + rho * proof.response) % order
        weight = rho * c % order
        for j in range(dealing.threshold):
            folded[j] = (folded[j] + weight) % order
            weight = weight * share.index % order
        g2_side = g2_side + proof.commitment_g2 * rho
        gt_side = gt_side * proof.commitment_gt**rho * share.value ** (rho * c % order)
    for commitment, weight in zip(dealing.commitments, folded, strict=True):
        g2_side = g2_side + commitment * weight
    if params.gamma2 * exponent == g2_side and request.base**exponent == gt_side:
        return ShareCheck(tuple(VerifiedDecryptionShare(s, context) for s in batch), ())
    verified, rejected = [], []
    for share in batch:
        try:
            verified.append(verify_decryption_share(params, dealing, request, share))
        except VerificationError:
            rejected.append(share.index)
    return ShareCheck(tuple(verified), tuple(rejected))


def combine_decryption_shares(
    params: DualParams, dealing: DomainKeyDealing, shares: Sequence[VerifiedDecryptionShare]
) -> GTElement:
    """Interpolate ``t`` verified shares of one request into ``X^p2``.

    Raises :class:`ThresholdError` for fewer than ``t`` shares, repeated indexes or shares of
    different requests.
    """
    if len({s.request_digest for s in shares}) > 1:
        raise ThresholdError("shares belong to different requests")
    chosen = list(shares[: dealing.threshold])
    if len(chosen) < dealing.threshold:
        raise ThresholdError(f"{len(chosen)} shares, {dealing.threshold} needed")
    lambdas = lagrange_at_zero([s.share.index for s in chosen], params.order)
    acc = params.group.gt_one
    for verified, coefficient in zip(chosen, lambdas, strict=True):
        acc = acc * verified.share.value**coefficient
    return acc


def requester_decrypt(
    params: DualParams,
    requester_secret: int,
    request: DecryptionRequest,
    combined: GTElement,
    associated_data: bytes = b"",
) -> bytes:
    """The requester removes its own ``d`` and decrypts.

    Raises :class:`~crypto.errors.DecryptionError` if ``combined`` was not made for this
    requester's key, or anything was altered.
    """
    blinding = combined ** inv_mod(requester_secret, params.order)
    return open_with_blinding(request.ciphertext.ciphertext, blinding, associated_data)
