"""Canonical encodings of G1, G2 and GT, shared by both backends.

G1 and G2 use the ZCash compressed format: the x coordinate big-endian (for G2, ``x_c1 || x_c0``)
with three flag bits in the first byte: compressed (0x80), infinity (0x40) and sign (0x20), where
the sign bit says that y is the lexicographically larger of the two roots.

GT has no standard encoding. Ours is the twelve base-field coefficients of the element in the
tower Fp2 = Fp[u]/(u^2 + 1), Fp6 = Fp2[v]/(v^3 - (u + 1)), Fp12 = Fp6[w]/(w^2 - v), written
``a0.c0 a0.c1 a1.c0 a1.c1 a2.c0 a2.c1 b0.c0 … b2.c1`` for ``(a0 + a1 v + a2 v^2) + (b0 + b1 v +
b2 v^2) w``, each 48 bytes big-endian. This is mcl's internal order, and py_ecc's flat
representation over Fp[w]/(w^12 - 2 w^6 + 2) is converted to it by :func:`flat_to_tower`.
"""

from __future__ import annotations

from py_ecc.bls.point_compression import modular_squareroot_in_FQ2
from py_ecc.fields import optimized_bls12_381_FQ2 as FQ2

from crypto.errors import DecodeError
from crypto.groups.params import FP_BYTES, G1_BYTES, G2_BYTES, GT_BYTES, B, P

_COMPRESSED = 0x80
_INFINITY = 0x40
_SIGN = 0x20
_HALF_P = (P - 1) // 2
_SQRT_EXP = (P + 1) // 4  # p = 3 (mod 4)

AffineG1 = tuple[int, int]
AffineG2 = tuple[int, int, int, int]  # x_c0, x_c1, y_c0, y_c1


def _fp_bytes(value: int) -> bytes:
    return value.to_bytes(FP_BYTES, "big")


def encode_g1(point: AffineG1 | None) -> bytes:
    """ZCash-compress an affine G1 point (None is the point at infinity)."""
    if point is None:
        return bytes([_COMPRESSED | _INFINITY]) + bytes(G1_BYTES - 1)
    x, y = point
    out = bytearray(_fp_bytes(x))
    out[0] |= _COMPRESSED | (_SIGN if y > _HALF_P else 0)
    return bytes(out)


def _split_flags(data: bytes, size: int, what: str) -> tuple[bool, bool, bytes]:
    if len(data) != size:
        raise DecodeError(f"{what} must be {size} bytes, got {len(data)}")
    flags = data[0]
    if not flags & _COMPRESSED:
        raise DecodeError(f"{what}: only the compressed form is accepted")
    infinity = bool(flags & _INFINITY)
    sign = bool(flags & _SIGN)
    body = bytes([flags & 0x1F]) + data[1:]
    if infinity and (sign or any(body)):
        raise DecodeError(f"{what}: non-canonical encoding of the point at infinity")
    return infinity, sign, body


def fp_sign(y: int) -> bool:
    """The ZCash sign of a base-field element: is it the larger of the pair (y, -y)?"""
    return y > _HALF_P


def fp2_sign(c0: int, c1: int) -> bool:
    """The ZCash sign of ``c0 + c1 u``: lexicographic on (c1, c0)."""
    return c1 > _HALF_P if c1 else c0 > _HALF_P


def parse_compressed(data: bytes, size: int, what: str) -> tuple[tuple[int, ...], bool] | None:
    """Split a compressed point into its reduced base-field words and the sign bit.

    Returns None for the point at infinity. The words come in encoding order (for G2,
    ``x_c1, x_c0``). Raises :class:`DecodeError` for bad flags or unreduced words.
    """
    infinity, sign, body = _split_flags(data, size, what)
    if infinity:
        return None
    words = tuple(int.from_bytes(body[i : i + FP_BYTES], "big") for i in range(0, size, FP_BYTES))
    if any(w >= P for w in words):
        raise DecodeError(f"{what}: x coordinate is not reduced")
    return words, sign


def decode_g1(data: bytes) -> AffineG1 | None:
    """Parse a compressed G1 point onto the curve (subgroup membership is the backend's check)."""
    infinity, sign, body = _split_flags(data, G1_BYTES, "G1 point")
    if infinity:
        return None
    x = int.from_bytes(body, "big")
    if x >= P:
        raise DecodeError("G1 point: x coordinate is not reduced")
    rhs = (x * x * x + B) % P
    y = pow(rhs, _SQRT_EXP, P)
    if y * y % P != rhs:
        raise DecodeError("G1 point: x is not on the curve")
    if (y > _HALF_P) != sign:
        y = P - y
    return x, y


def encode_g2(point: AffineG2 | None) -> bytes:
    """ZCash-compress an affine G2 point (None is the point at infinity)."""
    if point is None:
        return bytes([_COMPRESSED | _INFINITY]) + bytes(G2_BYTES - 1)
    x0, x1, y0, y1 = point
    out = bytearray(_fp_bytes(x1) + _fp_bytes(x0))
    out[0] |= _COMPRESSED | (_SIGN if fp2_sign(y0, y1) else 0)
    return bytes(out)


def decode_g2(data: bytes) -> AffineG2 | None:
    """Parse a compressed G2 point onto the twist (subgroup membership is the backend's check)."""
    infinity, sign, body = _split_flags(data, G2_BYTES, "G2 point")
    if infinity:
        return None
    x1 = int.from_bytes(body[:FP_BYTES], "big")
    x0 = int.from_bytes(body[FP_BYTES:], "big")
    if x0 >= P or x1 >= P:
        raise DecodeError("G2 point: x coordinate is not reduced")
    x = FQ2([x0, x1])
    rhs = x**3 + FQ2([B, B])
    y = modular_squareroot_in_FQ2(rhs)
    if y is None:
        raise DecodeError("G2 point: x is not on the twist")
    y0, y1 = (int(c) for c in y.coeffs)
    if fp2_sign(y0, y1) != sign:
        y0, y1 = (P - y0) % P, (P - y1) % P
    return x0, x1, y0, y1


def encode_gt(coefficients: list[int]) -> bytes:
    """Serialize twelve tower coefficients (see the module docstring for the order)."""
    return b"".join(_fp_bytes(c) for c in coefficients)


def decode_gt(data: bytes) -> list[int]:
    """Parse twelve reduced coefficients (membership in GT is the backend's check)."""
    if len(data) != GT_BYTES:
        raise DecodeError(f"GT element must be {GT_BYTES} bytes, got {len(data)}")
    coefficients = [
        int.from_bytes(data[i : i + FP_BYTES], "big") for i in range(0, GT_BYTES, FP_BYTES)
    ]
    if any(c >= P for c in coefficients):
        raise DecodeError("GT element: coefficient is not reduced")
    return coefficients


def flat_to_tower(flat: list[int]) -> list[int]:
    """Convert py_ecc's coefficients of w^0..w^11 (w^6 = u + 1) to the tower order above."""
    out = [0] * 12
    for j in range(3):
        # a_j = x + y u sits at w^(2j); as u = w^6 - 1 it gives (x - y) w^(2j) + y w^(2j+6).
        out[2 * j] = (flat[2 * j] + flat[2 * j + 6]) % P
        out[2 * j + 1] = flat[2 * j + 6] % P
        out[6 + 2 * j] = (flat[2 * j + 1] + flat[2 * j + 7]) % P
        out[6 + 2 * j + 1] = flat[2 * j + 7] % P
    return out


def tower_to_flat(tower: list[int]) -> list[int]:
    """The inverse of :func:`flat_to_tower`."""
    flat = [0] * 12
    for j in range(3):
        x, y = tower[2 * j], tower[2 * j + 1]
        flat[2 * j], flat[2 * j + 6] = (x - y) % P, y
        x, y = tower[6 + 2 * j], tower[6 + 2 * j + 1]
        flat[2 * j + 1], flat[2 * j + 7] = (x - y) % P, y
    return flat
