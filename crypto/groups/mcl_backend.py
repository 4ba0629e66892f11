"""The fast backend: mcl through pymcl.

pymcl's own serialization is not the ZCash format: it writes x little-endian with the top bit of
the last byte saying that y (for G2, y.c0) is odd. Encoding reads the affine coordinates from
mcl's decimal string form. Decoding parses the ZCash bytes, hands x to mcl in its own format so
that the square root and the subgroup check run in C, and negates the point if its y is not the
root the ZCash sign bit asks for. mcl refuses every point outside the prime-order subgroup.

mcl's GT exponentiation uses an endomorphism that is only valid inside GT, so decoding a GT
element checks membership: with the exact test of :mod:`crypto.groups.mcl_gt` (a third of the
cost of mcl's own), else with mcl's order-r test (``mclBnGT_isValid``), else with a plain
square-and-multiply by r.

Pairings against a G2 point used more than once go through :meth:`MclGroup.prepare_g2`, which
keeps the point's Miller-loop line coefficients (:mod:`crypto.groups.mcl_native`); the lines of
the generator g2 are computed once per process and used by every ``pairing(p, g2)``.

Hashing to G1 runs in mcl itself: pymcl does not wrap mcl's RFC 9380 settings, so
:class:`_MclHasher` reaches them through mcl's C API, which pymcl's extension module exports
(``mclBn_setMapToMode`` and ``mclBnG1_setDst``). Hashing to G2 stays in Python: mcl's G2 DST
setting gave results that differ from RFC 9380 for every DST but the RFC's own test DST, and
G2 hashing is only used for a few fixed generators. The mode and the DST are globals of the
mcl library, one per process, so there is one :class:`_MclHasher` per process too, shared by
every :class:`MclGroup`: its record of the DST last set is then the truth, and each hash sets
the DST it needs (when it differs) under the same lock as the hash itself. mcl takes DSTs
of at most 64 bytes; a longer one is hashed by the Python path (same result, about 4x slower),
so the project's own DSTs stay within 64 bytes. A known-answer
check runs first; if the C API is missing or answers wrongly, the backend falls back to the
Python implementation in :mod:`crypto.groups.hash_to_curve`.
"""

from __future__ import annotations

import ctypes
import operator
import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any, Self

import pymcl

from crypto.errors import DecodeError
from crypto.groups import encoding
from crypto.groups.api import G1Element, G2Element, Group, GTElement, PreparedG2
from crypto.groups.hash_to_curve import hash_to_g1_affine, hash_to_g2_affine
from crypto.groups.mcl_gt import load_gt_test
from crypto.groups.mcl_native import NativeMcl, load_native
from crypto.groups.params import FP_BYTES, G1_BYTES, G2_BYTES, GT_BYTES, R

_R_BITS = bin(R)[3:]  # below the leading one

_MCL_MAP_TO_MODE_HASH_TO_CURVE = 5  # mcl's MCL_MAP_TO_MODE_HASH_TO_CURVE (RFC 9380)
# RFC 9380 J.9.1: hash_to_curve("abc") under this DST; x of the result.
_KNOWN_DST = b"QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"
_KNOWN_X = int(
    "03567bc5ef9c690c2ab2ecdf6a96ef1c139cc0b2f284dca0a9a7943388a49a3"
    "aee664ba5379a7655d3c68900be2f6903",
    16,
)


class _MclHasher:
    """mcl's own RFC 9380 hash with a per-call DST (see the module docstring).

    Made once per process (``_HASHER``): a second instance would set mcl's global DST behind
    the first one's record of it.
    """

    def __init__(self) -> None:
        lib = ctypes.CDLL(pymcl._pymcl.__file__)
        self._set_mode = lib.mclBn_setMapToMode
        self._set_mode.argtypes = [ctypes.c_int]
        self._set_mode.restype = ctypes.c_int
        self._set_dst = lib.mclBnG1_setDst
        self._set_dst.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        self._set_dst.restype = ctypes.c_int
        self._current: bytes | None = None
        self._lock = threading.Lock()
        if self._set_mode(_MCL_MAP_TO_MODE_HASH_TO_CURVE) != 0:
            raise RuntimeError("mcl refused the RFC 9380 map-to mode")
        point = self.g1(b"abc", _KNOWN_DST)
        if point is None or int(str(point).split()[1]) != _KNOWN_X:
            raise RuntimeError("mcl's hash does not match the RFC 9380 test vector")

    def g1(self, message: bytes, dst: bytes) -> pymcl.G1 | None:
        """The hash, or None if mcl does not accept this DST."""
        with self._lock:
            if self._current != dst:
                if self._set_dst(dst, len(dst)) != 0:
                    self._current = None
                    return None
                self._current = dst
            return pymcl.G1.hash(message)


def _load_hasher() -> _MclHasher | None:
    try:
        return _MclHasher()
    except (OSError, AttributeError, RuntimeError):
        return None


# Made while the module is imported, which Python does once under its import lock, so no two
# threads can each make one (see _MclHasher).
_HASHER = _load_hasher()


def _fr(k: int) -> pymcl.Fr:
    return pymcl.Fr.deserialize((k % R).to_bytes(32, "little"))


class _MclPoint:
    """Group operations shared by the G1 and G2 wrappers (the subclass fixes the type).

    The encoding is kept once known (given by the decoder or computed on first use): points
    are immutable, and one point, such as a ciphertext's C1, is hashed into every proof about
    it while its encoding costs a decimal round trip through mcl.
    """

    __slots__ = ("_encoded", "_p")

    def __init__(self, point: Any, encoded: bytes | None = None) -> None:
        self._p = point
        self._encoded = encoded

    def __bytes__(self) -> bytes:
        encoded = self._encoded
        if encoded is None:
            encoded = self._encoded = self._encode()
        return encoded

    def _encode(self) -> bytes:
        raise NotImplementedError

    def __add__(self, other: Self) -> Self:
        return type(self)(self._p + other._p)

    def __sub__(self, other: Self) -> Self:
        return type(self)(self._p - other._p)

    def __neg__(self) -> Self:
        return type(self)(-self._p)

    def __mul__(self, scalar: int) -> Self:
        return type(self)(self._p * _fr(scalar))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and bool(self._p == other._p)

    def __hash__(self) -> int:
        return hash(self._p)

    def is_identity(self) -> bool:
        return bool(self._p.is_zero())


class MclG1(_MclPoint, G1Element):
    __slots__ = ()

    def _encode(self) -> bytes:
        if self._p.is_zero():
            return encoding.encode_g1(None)
        _, x, y = str(self._p).split()
        return encoding.encode_g1((int(x), int(y)))


class MclG2(_MclPoint, G2Element):
    __slots__ = ()

    def _encode(self) -> bytes:
        if self._p.is_zero():
            return encoding.encode_g2(None)
        _, x0, x1, y0, y1 = str(self._p).split()
        return encoding.encode_g2((int(x0), int(x1), int(y0), int(y1)))


class MclGT(GTElement):
    """A GT element; like the points, it keeps its encoding once known."""

    __slots__ = ("_e", "_encoded")

    def __init__(self, element: pymcl.GT, encoded: bytes | None = None) -> None:
        self._e = element
        self._encoded = encoded

    def __mul__(self, other: Self) -> Self:
        return type(self)(self._e * other._e)

    def __truediv__(self, other: Self) -> Self:
        return type(self)(self._e / other._e)

    def __pow__(self, exponent: int) -> Self:
        return type(self)(self._e ** _fr(exponent))

    def inverse(self) -> Self:
        return type(self)(~self._e)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MclGT) and self._e == other._e

    def __hash__(self) -> int:
        return hash(self._e)

    def __bytes__(self) -> bytes:
        encoded = self._encoded
        if encoded is None:
            # mcl writes the same twelve coefficients in the same order, each little-endian.
            raw = self._e.serialize()[::-1]
            chunks = (raw[i : i + FP_BYTES] for i in range(GT_BYTES - FP_BYTES, -1, -FP_BYTES))
            encoded = self._encoded = b"".join(chunks)
        return encoded

    def is_one(self) -> bool:
        return bool(self._e.is_one())


class MclPreparedG2(PreparedG2):
    """q with its line coefficients precomputed by mcl (20 KiB, kept as long as this object)."""

    __slots__ = ("_lines", "_native", "_q")

    def __init__(self, native: NativeMcl, q: MclG2) -> None:
        self._q = q
        self._native = native
        self._lines = native.precompute_g2(q._p)

    @property
    def point(self) -> MclG2:
        return self._q

    def pairing(self, p: G1Element) -> MclGT:
        if not isinstance(p, MclG1):
            raise TypeError("pairing needs mcl points")
        return MclGT(self._native.pairing_with_lines(p._p, self._lines))


class _FixedBaseTable:
    """Multiples base * (d * 256^w) for every byte position w and digit d, built on first use.

    Works for any mcl group given its identity and group operation (``*`` in GT, ``+`` in
    G1/G2). An exponentiation by a fixed base is then at most 32 group operations: about 6 MB
    for e(g1, g2), the base of every encryption, and 2.5 MB for g2, the base of every share
    proof's commitment.
    """

    _WINDOW = 8

    def __init__(
        self, base: Any, identity: Callable[[], Any], combine: Callable[[Any, Any], Any]
    ) -> None:
        self._base = base
        self._identity = identity
        self._combine = combine
        self._rows: list[list[Any]] | None = None

    def _build(self) -> list[list[Any]]:
        rows = []
        step = self._base
        for _ in range(0, R.bit_length(), self._WINDOW):
            row = [self._identity(), step]
            for _ in range(2, 1 << self._WINDOW):
                row.append(self._combine(row[-1], step))
            rows.append(row)
            step = self._combine(row[-1], step)
        return rows

    def build(self) -> list[list[Any]]:
        """The table's rows, built on the first call (about 20 ms)."""
        if self._rows is None:
            self._rows = self._build()
        return self._rows

    def power(self, exponent: int) -> Any:
        rows = self.build()
        k = exponent % R
        acc = self._identity()
        combine = self._combine
        for row in rows:
            if k == 0:
                break
            digit = k & 0xFF
            if digit:
                acc = combine(acc, row[digit])
            k >>= self._WINDOW
        return acc


def _gt_has_order_r(element: pymcl.GT) -> bool:
    acc = element
    for bit in _R_BITS:
        acc = acc * acc
        if bit == "1":
            acc = acc * element
    return bool(acc.is_one())


class MclGroup(Group):
    """BLS12-381 on mcl."""

    name = "mcl"
    order = R

    def __init__(self) -> None:
        self._g1 = MclG1(pymcl.g1)
        self._g2 = MclG2(pymcl.g2)
        self._one = MclGT(pymcl.GT())
        self._z = MclGT(pymcl.pairing(pymcl.g1, pymcl.g2))
        self._z_table = _FixedBaseTable(self._z._e, pymcl.GT, operator.mul)
        self._g2_table = _FixedBaseTable(pymcl.g2, pymcl.G2, operator.add)
        self._hasher = _HASHER
        self._native = load_native()
        self._gt_test = None if self._native is None else load_gt_test(self._native)
        # e(P, g2) is the owner's decryption and the node's per-record e(C1, g2).
        self._g2_lines = None if self._native is None else MclPreparedG2(self._native, self._g2)

    @property
    def native_hashing(self) -> bool:
        """Whether hashing to the curve runs in mcl (else in Python)."""
        return self._hasher is not None

    @property
    def native_pairing(self) -> bool:
        """Whether precomputed pairings and the GT test run through mcl's C API."""
        return self._native is not None

    @property
    def g1(self) -> MclG1:
        return self._g1

    @property
    def g2(self) -> MclG2:
        return self._g2

    @property
    def gt_one(self) -> MclGT:
        return self._one

    @property
    def z(self) -> MclGT:
        return self._z

    def warm_up(self) -> None:
        self._z_table.build()
        self._g2_table.build()

    def z_pow(self, exponent: int) -> MclGT:
        return MclGT(self._z_table.power(exponent))

    def g2_mul_generator(self, scalar: int) -> MclG2:
        return MclG2(self._g2_table.power(scalar))

    def g1_identity(self) -> MclG1:
        return MclG1(pymcl.G1())

    def g2_identity(self) -> MclG2:
        return MclG2(pymcl.G2())

    def random_scalar(self) -> int:
        return secrets.randbelow(R - 1) + 1

    def pairing(self, p: G1Element, q: G2Element) -> MclGT:
        if not isinstance(p, MclG1) or not isinstance(q, MclG2):
            raise TypeError("pairing needs mcl points")
        if q is self._g2 and self._g2_lines is not None:
            return self._g2_lines.pairing(p)
        return MclGT(pymcl.pairing(p._p, q._p))

    def gt_pow_unchecked(self, element: GTElement, exponent: int) -> MclGT:
        if not isinstance(element, MclGT):
            raise TypeError("needs an mcl GT value")
        if not 0 <= exponent < R:
            raise ValueError("exponent out of range")
        if self._native is not None:
            return MclGT(self._native.power_generic(element._e, _fr(exponent)))
        acc, base = pymcl.GT(), element._e
        for bit in bin(exponent)[2:]:
            acc = acc * acc
            if bit == "1":
                acc = acc * base
        return MclGT(acc)

    def prepare_g2(self, q: G2Element) -> PreparedG2:
        if not isinstance(q, MclG2):
            raise TypeError("pairing needs mcl points")
        if self._native is None:
            return super().prepare_g2(q)
        return MclPreparedG2(self._native, q)

    def pairing_product(self, pairs: Sequence[tuple[G1Element, G2Element]]) -> MclGT:
        # pymcl exposes no Miller loop, so the product costs one full pairing per pair.
        acc = pymcl.GT()
        for p, q in pairs:
            acc = acc * self.pairing(p, q)._e
        return MclGT(acc)

    def _has_order_r(self, element: pymcl.GT) -> bool:
        if self._gt_test is not None:
            return self._gt_test(element)
        if self._native is not None:
            return self._native.has_order_r(element)
        return _gt_has_order_r(element)

    def _g1_from_affine(self, point: encoding.AffineG1 | None) -> MclG1:
        if point is None:
            return self.g1_identity()
        try:
            return MclG1(pymcl.G1(f"1 {point[0]} {point[1]}", 10))
        except (ValueError, RuntimeError) as exc:
            raise DecodeError("G1 point is not in the prime-order subgroup") from exc

    def _g2_from_affine(self, point: encoding.AffineG2 | None) -> MclG2:
        if point is None:
            return self.g2_identity()
        try:
            return MclG2(pymcl.G2("1 {} {} {} {}".format(*point), 10))
        except (ValueError, RuntimeError) as exc:
            raise DecodeError("G2 point is not in the prime-order subgroup") from exc

    def hash_to_g1(self, message: bytes, dst: bytes) -> MclG1:
        if not 0 < len(dst) <= 255:
            raise ValueError("a hash-to-curve DST must be 1 to 255 bytes")
        point = self._hasher.g1(message, dst) if self._hasher is not None else None
        if point is not None:
            return MclG1(point)
        return self._g1_from_affine(hash_to_g1_affine(message, dst))

    def hash_to_g2(self, message: bytes, dst: bytes) -> MclG2:
        return self._g2_from_affine(hash_to_g2_affine(message, dst))

    def g1_from_bytes(self, data: bytes) -> MclG1:
        header = encoding.parse_compressed(data, G1_BYTES, "G1 point")
        if header is None:
            return self.g1_identity()
        (x,), sign = header
        if x == 0:  # mcl reads all-zero bytes as infinity; (0, +-2) is on E but outside G1
            return self._g1_from_affine(encoding.decode_g1(data))
        try:
            point = pymcl.G1.deserialize(x.to_bytes(FP_BYTES, "little"))
        except (ValueError, RuntimeError) as exc:
            raise DecodeError("G1 point is not on the curve or not in the subgroup") from exc
        y = int(str(point).split()[2])
        # Decoding accepts canonical encodings only, so ``data`` is the point's encoding.
        return MclG1(-point if encoding.fp_sign(y) != sign else point, bytes(data))

    def g2_from_bytes(self, data: bytes) -> MclG2:
        header = encoding.parse_compressed(data, G2_BYTES, "G2 point")
        if header is None:
            return self.g2_identity()
        (x1, x0), sign = header
        if x0 == 0 and x1 == 0:  # mcl reads all-zero bytes as infinity
            return self._g2_from_affine(encoding.decode_g2(data))
        raw = x0.to_bytes(FP_BYTES, "little") + x1.to_bytes(FP_BYTES, "little")
        try:
            point = pymcl.G2.deserialize(raw)
        except (ValueError, RuntimeError) as exc:
            raise DecodeError("G2 point is not on the twist or not in the subgroup") from exc
        _, _, _, y0, y1 = str(point).split()
        negate = encoding.fp2_sign(int(y0), int(y1)) != sign
        return MclG2(-point if negate else point, bytes(data))

    def gt_from_bytes(self, data: bytes, *, check_subgroup: bool = True) -> MclGT:
        encoding.decode_gt(data)  # length and reduced coefficients
        # mcl's own layout: the same coefficients in the same order, each little-endian.
        chunks = [data[i : i + FP_BYTES] for i in range(0, GT_BYTES, FP_BYTES)]
        try:
            element = pymcl.GT.deserialize(b"".join(reversed(chunks))[::-1])
        except (ValueError, RuntimeError) as exc:
            raise DecodeError("GT element rejected by mcl") from exc
        if element.is_zero():
            raise DecodeError("GT element is zero")
        if check_subgroup and not self._has_order_r(element):
            raise DecodeError("GT element is not in the order-r subgroup")
        return MclGT(element, bytes(data))
