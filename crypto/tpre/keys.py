"""User key pairs of the threshold PRE (DESIGN 3.2).

A user with secret x publishes X1 = g1^x, X2 = g2^x and W = g1^(1/x). Any user can own records
(W is what grants are checked against) and request them (X2 is the base of re-key shares).
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError, VerificationError
from crypto.groups import G1Element, G2Element, Group
from crypto.groups.params import G1_BYTES, G2_BYTES
from crypto.groups.scalars import inv_mod, scalar_from_bytes, scalar_to_bytes
from crypto.tpre.tags import TAG_PUBLIC_KEY, TAG_SECRET_KEY, VERSION


@dataclass(frozen=True, slots=True)
class UserPublicKey:
    """(X1, X2, W) = (g1^x, g2^x, g1^(1/x)). Check with :meth:`validate` before trusting it."""

    x1: G1Element
    x2: G2Element
    w: G1Element

    def to_bytes(self) -> bytes:
        w = Writer(TAG_PUBLIC_KEY, VERSION)
        w.fixed(bytes(self.x1), G1_BYTES).fixed(bytes(self.x2), G2_BYTES)
        return w.fixed(bytes(self.w), G1_BYTES).to_bytes()

    @classmethod
    def read(cls, group: Group, r: Reader) -> UserPublicKey:
        r.expect_header(TAG_PUBLIC_KEY, VERSION)
        x1 = group.g1_from_bytes(r.fixed(G1_BYTES))
        x2 = group.g2_from_bytes(r.fixed(G2_BYTES))
        w = group.g1_from_bytes(r.fixed(G1_BYTES))
        return cls(x1, x2, w)

    @classmethod
    def from_bytes(cls, group: Group, data: bytes) -> UserPublicKey:
        return parse(data, "user public key", lambda r: cls.read(group, r))

    def validate(self, group: Group) -> None:
        """Raise :class:`VerificationError` unless e(X1, g2) = e(g1, X2) and e(W, X2) = Z."""
        if self.x1.is_identity() or self.x2.is_identity() or self.w.is_identity():
            raise VerificationError("public key has an identity component")
        if group.pairing(self.x1, group.g2) != group.pairing(group.g1, self.x2):
            raise VerificationError("public key: X1 and X2 have different exponents")
        if group.pairing(self.w, self.x2) != group.z:
            raise VerificationError("public key: W is not g1^(1/x)")


class UserSecretKey:
    """The secret scalar x. Its repr never shows it."""

    __slots__ = ("_group", "_x")

    def __init__(self, group: Group, x: int) -> None:
        if not 0 < x < group.order:
            raise ValueError("secret scalar out of range")
        self._group = group
        self._x = x

    @property
    def group(self) -> Group:
        return self._group

    @property
    def scalar(self) -> int:
        return self._x

    def public_key(self) -> UserPublicKey:
        g = self._group
        return UserPublicKey(g.g1 * self._x, g.g2 * self._x, g.g1 * inv_mod(self._x, g.order))

    def to_bytes(self) -> bytes:
        """The secret in canonical form, for a key file. Handle with care."""
        return Writer(TAG_SECRET_KEY, VERSION).fixed(scalar_to_bytes(self._x), 32).to_bytes()

    @classmethod
    def from_bytes(cls, group: Group, data: bytes) -> UserSecretKey:
        def body(r: Reader) -> UserSecretKey:
            r.expect_header(TAG_SECRET_KEY, VERSION)
            x = scalar_from_bytes(r.fixed(32))
            if x == 0:
                raise DecodeError("secret key is zero")
            return cls(group, x)

        return parse(data, "user secret key", body)

    def __repr__(self) -> str:
        return "UserSecretKey(<hidden>)"


def generate_user_key(group: Group) -> UserSecretKey:
    """A fresh random key pair's secret half."""
    return UserSecretKey(group, group.random_scalar())
