"""Grants: an owner's re-encryption key to one requester, split t-of-n across the nodes.

With f(X) = 1/a + c_1 X + ... + c_{t-1} X^(t-1), node i receives rk_i = X2_B^(f(i)) in a sealed
box. The grant publishes F_j = e(g1, X2_B)^(c_j); with F_0 = e(W_A, X2_B), anybody can compute
VK_i = prod_j F_j^(i^j) = e(g1, g2)^(b f(i)), and node i accepts its share iff e(g1, rk_i) = VK_i.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError, VerificationError
from crypto.groups import G2Element, Group, GTElement, PreparedG2
from crypto.groups.params import G2_BYTES, GT_BYTES
from crypto.groups.scalars import inv_mod
from crypto.polynomial import evaluate_polynomial, random_polynomial
from crypto.sealing import BoxPublicKey, BoxSecretKey
from crypto.tpre.keys import UserPublicKey, UserSecretKey
from crypto.tpre.tags import TAG_GRANT, TAG_REKEY_SHARE, VERSION

MAX_NODES = 1024


@dataclass(frozen=True, slots=True)
class ReKeyShare:
    """Node ``index``'s share rk_i of a grant (secret: it travels only inside a sealed box)."""

    index: int
    rk: G2Element

    def to_bytes(self) -> bytes:
        w = Writer(TAG_REKEY_SHARE, VERSION).u16(self.index)
        return w.fixed(bytes(self.rk), G2_BYTES).to_bytes()

    @classmethod
    def from_bytes(cls, group: Group, data: bytes) -> ReKeyShare:
        def body(r: Reader) -> ReKeyShare:
            r.expect_header(TAG_REKEY_SHARE, VERSION)
            index = r.u16()
            return cls(index, group.g2_from_bytes(r.fixed(G2_BYTES)))

        return parse(data, "re-key share", body)

    def __repr__(self) -> str:
        return f"ReKeyShare(index={self.index}, rk=<hidden>)"


@dataclass(frozen=True, slots=True)
class VerifiedReKeyShare:
    """A re-key share that passed e(g1, rk_i) = VK_i; made only by :func:`verify_rekey_share`.

    ``prepared_rk`` is rk_i made ready for pairing (its Miller-loop lines on mcl, 20 KiB): rk_i
    is fixed for the life of the grant and paired with every ciphertext the node re-encrypts,
    so the lines are computed once here rather than in every share.
    """

    share: ReKeyShare
    verification_key: GTElement
    prepared_rk: PreparedG2 = field(compare=False, repr=False)

    @property
    def index(self) -> int:
        return self.share.index


@dataclass(frozen=True, slots=True)
class Grant:
    """The public part of an owner -> requester grant, plus one sealed share per node."""

    threshold: int
    owner: UserPublicKey
    requester: UserPublicKey
    commitments: tuple[GTElement, ...]  # F_1 .. F_{t-1}
    sealed_shares: tuple[bytes, ...]  # for nodes 1 .. n, in order

    @property
    def node_count(self) -> int:
        return len(self.sealed_shares)

    def to_bytes(self) -> bytes:
        w = Writer(TAG_GRANT, VERSION).u16(self.threshold)
        w.raw(self.owner.to_bytes()).raw(self.requester.to_bytes())
        w.seq(self.commitments, lambda w_, f: w_.fixed(bytes(f), GT_BYTES))
        w.seq(self.sealed_shares, lambda w_, s: w_.blob(s))
        return w.to_bytes()

    @classmethod
    def from_bytes(cls, group: Group, data: bytes) -> Grant:
        def body(r: Reader) -> Grant:
            r.expect_header(TAG_GRANT, VERSION)
            threshold = r.u16()
            owner = UserPublicKey.read(group, r)
            requester = UserPublicKey.read(group, r)
            commitments = r.seq(lambda r_: group.gt_from_bytes(r_.fixed(GT_BYTES)), MAX_NODES)
            sealed = r.seq(lambda r_: r_.blob(1024), MAX_NODES)
            grant = cls(threshold, owner, requester, tuple(commitments), tuple(sealed))
            _check_shape(grant)
            return grant

        return parse(data, "grant", body)


def _check_shape(grant: Grant) -> None:
    if not 1 <= grant.threshold <= grant.node_count:
        raise DecodeError(f"grant: threshold {grant.threshold} of {grant.node_count} nodes")
    if len(grant.commitments) != grant.threshold - 1:
        raise DecodeError("grant: needs exactly t - 1 commitments")


def make_grant(
    group: Group,
    owner_secret: UserSecretKey,
    requester: UserPublicKey,
    node_box_keys: Sequence[BoxPublicKey],
    threshold: int,
) -> Grant:
    """Split the owner's re-key to ``requester`` t-of-n; node i is ``node_box_keys[i - 1]``.

    The requester's key should have been validated (``requester.validate(group)``) first.
    """
    n = len(node_box_keys)
    if not 1 <= threshold <= n <= MAX_NODES:
        raise ValueError(f"threshold {threshold} of {n} nodes is not possible")
    order = group.order
    coefficients = random_polynomial(inv_mod(owner_secret.scalar, order), threshold - 1, order)
    base = group.pairing(group.g1, requester.x2)
    commitments = tuple(base**c for c in coefficients[1:])
    sealed = []
    for index, box_key in enumerate(node_box_keys, start=1):
        share = ReKeyShare(index, requester.x2 * evaluate_polynomial(coefficients, index, order))
        sealed.append(box_key.seal(share.to_bytes()))
    return Grant(threshold, owner_secret.public_key(), requester, commitments, tuple(sealed))


def verification_keys(group: Group, grant: Grant) -> list[GTElement]:
    """VK_1 .. VK_n of a grant (one pairing plus (t - 1) n exponentiations)."""
    f0 = group.pairing(grant.owner.w, grant.requester.x2)
    order = group.order
    keys = []
    for index in range(1, grant.node_count + 1):
        vk = f0
        power = 1
        for f_j in grant.commitments:
            power = power * index % order
            vk = vk * f_j**power
        keys.append(vk)
    return keys


def open_rekey_share(
    group: Group, grant: Grant, index: int, box_secret: BoxSecretKey
) -> ReKeyShare:
    """Unseal node ``index``'s share; raises DecryptionError / DecodeError if it is not ours."""
    if not 1 <= index <= grant.node_count:
        raise VerificationError(f"grant has no share for node {index}")
    share = ReKeyShare.from_bytes(group, box_secret.unseal(grant.sealed_shares[index - 1]))
    if share.index != index:
        raise VerificationError(f"sealed share is for node {share.index}, not {index}")
    return share


def verify_rekey_share(
    group: Group, share: ReKeyShare, verification_key: GTElement
) -> VerifiedReKeyShare:
    """Check e(g1, rk_i) = VK_i; raises :class:`VerificationError` for an inconsistent share."""
    if share.rk.is_identity():
        raise VerificationError(f"re-key share {share.index} is the identity")
    prepared = group.prepare_g2(share.rk)
    if prepared.pairing(group.g1) != verification_key:
        raise VerificationError(f"re-key share {share.index} does not match the grant commitments")
    return VerifiedReKeyShare(share, verification_key, prepared)
