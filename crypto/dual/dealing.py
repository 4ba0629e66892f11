"""Dealing the domain key ``p2`` t-of-n to the consensus nodes (the fix to seed 000).

The authority picks ``f(X) = p2 + c_1 X + ... + c_{t-1} X^(t-1)``, publishes Feldman commitments
``F_j = gamma2^(c_j)`` (so ``F_0 = pk_p2``) and sends node ``i`` the share ``sigma_i = f(i)`` in
an X25519 sealed box (:class:`SealedDomainShare`). Anyone computes
``VK_i = prod F_j^(i^j) = gamma2^(sigma_i)``; a node checks its share against it on receipt. A
genesis lists the ``VK_i`` themselves; :meth:`DomainKeyDealing.from_verification_keys` recovers
the commitments from them and checks that all of them lie on one polynomial of degree < t.

Known limit: any ``t`` colluding nodes can interpolate ``p2`` and read every record of the
domain, just as ``t`` colluding proxies plus a grantee can in the threshold PRE. The dealer
should forget ``p2`` after dealing; rotating it means a new dealing and
:func:`crypto.dual.keys.rekey_update`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.dual.keys import DomainSecretKey
from crypto.dual.params import DualParams
from crypto.errors import DecodeError, ThresholdError, VerificationError
from crypto.groups import G2Element
from crypto.groups.params import G2_BYTES, SCALAR_BYTES
from crypto.groups.scalars import scalar_from_bytes, scalar_to_bytes
from crypto.polynomial import basis_polynomials, evaluate_polynomial, random_polynomial
from crypto.sealing import BoxPublicKey, BoxSecretKey

DEALING_TYPE_TAG = tags.DUAL_DEALING
DOMAIN_SHARE_TYPE_TAG = tags.DUAL_DOMAIN_SHARE
SEALED_SHARE_TYPE_TAG = tags.DUAL_SEALED_DOMAIN_SHARE
DEALING_VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)
SEALED_SHARE_VERSION = 1
MAX_NODES = 1024
#: A sealed share is a 36-byte DomainKeyShare plus the box's 48 bytes; the bound leaves room for
#: a later share format without letting a hostile length prefix allocate much.
MAX_SEALED_SHARE = 1024


@dataclass(frozen=True, slots=True)
class DomainKeyDealing:
    """Public record of a dealing: ``t``, ``n`` and the commitments ``F_0..F_{t-1}``."""

    threshold: int
    total: int
    commitments: tuple[G2Element, ...]
    # VK_i costs t-1 G2 multiplications and a node checks many requests against one dealing.
    _keys: dict[int, G2Element] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= self.total <= MAX_NODES:
            raise ThresholdError(f"need 1 <= t <= n <= {MAX_NODES}")
        if len(self.commitments) != self.threshold:
            raise ThresholdError("a dealing has exactly t commitments")

    @property
    def public_key(self) -> G2Element:
        """``F_0 = gamma2^p2``, the domain public key the dealing shares."""
        return self.commitments[0]

    def verification_key(self, index: int) -> G2Element:
        """``VK_i = gamma2^(sigma_i)`` of node ``index``; raises :class:`ThresholdError`."""
        if not 1 <= index <= self.total:
            raise ThresholdError(f"node index {index} outside 1..{self.total}")
        cached = self._keys.get(index)
        if cached is not None:
            return cached
        acc = self.commitments[-1]
        for commitment in reversed(self.commitments[:-1]):
            acc = acc * index + commitment
        self._keys[index] = acc
        return acc

    @classmethod
    def from_verification_keys(
        cls, params: DualParams, threshold: int, keys: Sequence[G2Element]
    ) -> DomainKeyDealing:
        """The dealing whose ``VK_i`` are ``keys`` (node ``i``'s at position ``i - 1``).

        The commitments are interpolated in the exponent from ``VK_1..VK_t`` (``t^2`` G2
        multiplications); every later key must then equal the dealing's ``VK_i``, which is what
        makes any ``t`` shares combine to the same ``p2``. Raises :class:`ThresholdError` for
        ``t`` or ``n`` out of range and :class:`VerificationError` naming the first node whose
        key is off the polynomial.
        """
        total = len(keys)
        if not 1 <= threshold <= total <= MAX_NODES:
            raise ThresholdError(f"need 1 <= t <= n <= {MAX_NODES}, got t={threshold}, n={total}")
        # F_k = prod_i VK_i^(L_i[k]) with L_i the Lagrange basis polynomials over 1..t.
        bases = basis_polynomials(range(1, threshold + 1), params.order)
        commitments = []
        for k in range(threshold):
            acc = params.group.g2_identity()
            for key, basis in zip(keys, bases, strict=False):
                acc = acc + key * basis[k]
            commitments.append(acc)
        dealing = cls(threshold, total, tuple(commitments))
        for index in range(threshold + 1, total + 1):
            if dealing.verification_key(index) != keys[index - 1]:
                raise VerificationError(
                    f"verification key of node {index} is not on the polynomial through "
                    f"those of nodes 1..{threshold}"
                )
        return dealing

    def to_bytes(self) -> bytes:
        writer = Writer(DEALING_TYPE_TAG, DEALING_VERSION).u16(self.threshold).u16(self.total)
        for commitment in self.commitments:
            writer.fixed(bytes(commitment), G2_BYTES)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, params: DualParams, data: bytes) -> DomainKeyDealing:
        """Decode; raises :class:`DecodeError`."""

        def body(reader: Reader) -> DomainKeyDealing:
            reader.expect_header(DEALING_TYPE_TAG, DEALING_VERSION)
            threshold, total = reader.u16(), reader.u16()
            if not 1 <= threshold <= total <= MAX_NODES:
                raise DecodeError("domain key dealing: bad threshold parameters")
            points = tuple(
                params.group.g2_from_bytes(reader.fixed(G2_BYTES)) for _ in range(threshold)
            )
            return cls(threshold, total, points)

        return parse(data, "domain key dealing", body)


class DomainKeyShare:
    """Node ``index``'s share ``sigma_i`` of ``p2`` (sent in a sealed box; repr hides it)."""

    __slots__ = ("index", "sigma")

    def __init__(self, index: int, sigma: int) -> None:
        self.index = index
        self.sigma = sigma

    def __repr__(self) -> str:
        return f"DomainKeyShare(index={self.index}, sigma=<secret>)"

    def to_bytes(self) -> bytes:
        writer = Writer(DOMAIN_SHARE_TYPE_TAG, DEALING_VERSION).u16(self.index)
        return writer.raw(scalar_to_bytes(self.sigma)).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> DomainKeyShare:
        def body(reader: Reader) -> DomainKeyShare:
            reader.expect_header(DOMAIN_SHARE_TYPE_TAG, DEALING_VERSION)
            index = reader.u16()
            if index == 0:
                raise DecodeError("domain key share: index 0")
            return cls(index, scalar_from_bytes(reader.fixed(SCALAR_BYTES)))

        return parse(data, "domain key share", body)


def deal_domain_key(
    params: DualParams, domain: DomainSecretKey, threshold: int, total: int
) -> tuple[DomainKeyDealing, list[DomainKeyShare]]:
    """Split ``p2`` of ``domain`` t-of-n (run by the authority).

    Returns the public dealing and the ``n`` shares, share ``i`` for node ``i``. Raises
    :class:`ThresholdError` for parameters outside ``1 <= t <= n <= 1024``.
    """
    if not 1 <= threshold <= total <= MAX_NODES:
        raise ThresholdError(f"need 1 <= t <= n <= {MAX_NODES}, got t={threshold}, n={total}")
    coefficients = random_polynomial(domain.p2, threshold - 1, params.order)
    dealing = DomainKeyDealing(threshold, total, tuple(params.gamma2 * c for c in coefficients))
    shares = [
        DomainKeyShare(i, evaluate_polynomial(coefficients, i, params.order))
        for i in range(1, total + 1)
    ]
    return dealing, shares


def verify_domain_key_share(
    params: DualParams, dealing: DomainKeyDealing, share: DomainKeyShare
) -> None:
    """A node's check of its share; raises :class:`VerificationError` if it is not on the
    dealt polynomial (or :class:`ThresholdError` if its index is out of range)."""
    if params.gamma2 * share.sigma != dealing.verification_key(share.index):
        raise VerificationError(f"domain key share {share.index} does not match the dealing")


def seal_domain_key_shares(
    shares: Sequence[DomainKeyShare], boxes: Sequence[BoxPublicKey]
) -> tuple[bytes, ...]:
    """Seal share ``i`` to node ``i``'s box key (``boxes[i - 1]``), for transport and storage.

    Raises :class:`ThresholdError` if the counts differ.
    """
    if len(shares) != len(boxes):
        raise ThresholdError(f"{len(shares)} shares for {len(boxes)} nodes")
    return tuple(boxes[s.index - 1].seal(s.to_bytes()) for s in shares)


def open_domain_key_share(
    params: DualParams,
    dealing: DomainKeyDealing,
    index: int,
    sealed: bytes,
    box_secret: BoxSecretKey,
) -> DomainKeyShare:
    """Node ``index`` unseals and checks its share.

    Raises :class:`~crypto.errors.DecryptionError` if the box is not for this node,
    :class:`DecodeError` for a malformed share, and :class:`VerificationError` if it is for
    another index or not on the dealt polynomial.
    """
    share = DomainKeyShare.from_bytes(box_secret.unseal(sealed))
    if share.index != index:
        raise VerificationError(f"sealed domain key share is for node {share.index}, not {index}")
    verify_domain_key_share(params, dealing, share)
    return share


@dataclass(frozen=True, slots=True)
class SealedDomainShare:
    """Node ``index``'s share of the domain key of ``epoch``, sealed to that node's box key.

    What the authority hands a node (a file in its home). Anyone may carry it and only that
    node opens it; a sealed box does not say who sealed it, so what a node opens counts only
    once it matches ``VK_i`` (:meth:`open`). ``epoch`` and ``index`` travel in clear so that a
    share for another node or epoch is named as such before anything is opened.
    """

    epoch: int
    index: int
    sealed: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.epoch < 1 << 32:
            raise ThresholdError(f"epoch {self.epoch} outside 0..2^32-1")
        if not 1 <= self.index <= MAX_NODES:
            raise ThresholdError(f"node index {self.index} outside 1..{MAX_NODES}")
        if not 0 < len(self.sealed) <= MAX_SEALED_SHARE:
            raise ThresholdError(f"a sealed share is 1..{MAX_SEALED_SHARE} bytes")

    @classmethod
    def seal_all(
        cls, epoch: int, shares: Sequence[DomainKeyShare], boxes: Sequence[BoxPublicKey]
    ) -> tuple[SealedDomainShare, ...]:
        """Seal share ``i`` to ``boxes[i - 1]``; raises :class:`ThresholdError` if the counts
        differ."""
        sealed = seal_domain_key_shares(shares, boxes)
        return tuple(cls(epoch, s.index, box) for s, box in zip(shares, sealed, strict=True))

    def open(
        self, params: DualParams, dealing: DomainKeyDealing, box_secret: BoxSecretKey
    ) -> DomainKeyShare:
        """Unseal and check against the dealing; raises as :func:`open_domain_key_share`."""
        return open_domain_key_share(params, dealing, self.index, self.sealed, box_secret)

    def to_bytes(self) -> bytes:
        writer = Writer(SEALED_SHARE_TYPE_TAG, SEALED_SHARE_VERSION)
        return writer.u32(self.epoch).u16(self.index).blob(self.sealed).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedDomainShare:
        """Decode; raises :class:`DecodeError`."""

        def body(reader: Reader) -> SealedDomainShare:
            reader.expect_header(SEALED_SHARE_TYPE_TAG, SEALED_SHARE_VERSION)
            epoch, index = reader.u32(), reader.u16()
            sealed = reader.blob(MAX_SEALED_SHARE)
            try:
                return cls(epoch, index, sealed)
            except ThresholdError as exc:
                raise DecodeError(f"sealed domain share: {exc}") from exc

        return parse(data, "sealed domain share", body)
