"""RFC 9380 hashing to BLS12-381 (suites ``BLS12381G1_XMD:SHA-256_SSWU_RO_`` and G2).

G1 has a fast path on GMP integers (gmpy2): the simplified SWU map onto the 11-isogenous curve,
the isogeny, and cofactor clearing by h_eff in Jacobian coordinates. It returns affine coordinates
that a backend turns into its own point (mcl then checks subgroup membership once more). The
isogeny constants are taken from py_ecc rather than retyped, and the result is tested against
py_ecc's independent implementation and the RFC's vectors.

G2 hashing is rare here (fixed generators), so it uses py_ecc's implementation and caches nothing:
callers that need a fixed generator compute it once.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

import gmpy2
from gmpy2 import mpz
from py_ecc.bls import hash_to_curve as _pyecc_h2c
from py_ecc.optimized_bls12_381 import constants as _k
from py_ecc.optimized_bls12_381 import optimized_curve as _curve

from crypto.groups.encoding import AffineG1, AffineG2
from crypto.groups.params import H_EFF_G1, P

_L = 64  # bytes per field element: ceil((ceil(log2(p)) + 128) / 8)
_P = mpz(P)
_SQRT_EXP = mpz((P + 1) // 4)

_Z = mpz(int(_k.ISO_11_Z))
_A = mpz(int(_k.ISO_11_A))
_B = mpz(int(_k.ISO_11_B))
_C2 = mpz(int(_k.SQRT_MINUS_11_CUBED))  # sqrt(-Z^3)
_X_NUM = tuple(mpz(int(c)) for c in _k.ISO_11_X_NUMERATOR)
_X_DEN = tuple(mpz(int(c)) for c in _k.ISO_11_X_DENOMINATOR)
_Y_NUM = tuple(mpz(int(c)) for c in _k.ISO_11_Y_NUMERATOR)
_Y_DEN = tuple(mpz(int(c)) for c in _k.ISO_11_Y_DENOMINATOR)
_X_ON_ISOGENY_ZERO = _B * gmpy2.invert(_Z * _A, _P) % _P
_MINUS_B_OVER_A = -_B * gmpy2.invert(_A, _P) % _P
_H_EFF_BITS = bin(H_EFF_G1)[3:]  # below the leading one

_Jacobian = tuple[Any, Any, Any]  # mpz coordinates; gmpy2 ships no type stubs for mpz arithmetic

if _C2 * _C2 % _P != (-(_Z**3)) % _P:  # guards against a change in py_ecc's constants
    raise RuntimeError("py_ecc's SQRT_MINUS_11_CUBED is not a square root of -11^3")


def expand_message_xmd(message: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 with SHA-256."""
    if not 0 < len(dst) <= 255:
        raise ValueError("a hash-to-curve DST must be 1 to 255 bytes")
    blocks = -(-length // 32)
    if blocks > 255 or length > 65535:
        raise ValueError("requested too many bytes from expand_message_xmd")
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha256(
        bytes(64) + message + length.to_bytes(2, "big") + b"\x00" + dst_prime
    ).digest()
    out = [hashlib.sha256(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, blocks + 1):
        mixed = bytes(a ^ b for a, b in zip(b0, out[-1], strict=True))
        out.append(hashlib.sha256(mixed + bytes([i]) + dst_prime).digest())
    return b"".join(out)[:length]


def hash_to_field_fp(message: bytes, dst: bytes, count: int) -> list[Any]:
    """``count`` elements of Fp (as mpz) from ``expand_message_xmd``."""
    raw = expand_message_xmd(message, dst, count * _L)
    return [mpz(int.from_bytes(raw[i * _L : (i + 1) * _L], "big")) % _P for i in range(count)]


def _horner(coefficients: tuple[Any, ...], x: Any) -> Any:
    acc = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        acc = (acc * x + c) % _P
    return acc


def _map_to_isogenous_curve(u: Any) -> tuple[Any, Any]:
    """Simplified SWU for E': y^2 = x^3 + A'x + B' (one exponentiation per call)."""
    P = _P  # a local name is faster than a global in these hot loops
    tv1 = _Z * u * u % P
    den = (tv1 * tv1 + tv1) % P
    x1 = _X_ON_ISOGENY_ZERO if den == 0 else _MINUS_B_OVER_A * (1 + gmpy2.invert(den, P)) % P
    gx1 = (x1 * x1 * x1 + _A * x1 + _B) % P
    y1 = gmpy2.powmod(gx1, _SQRT_EXP, P)
    if y1 * y1 % P == gx1:
        x, y = x1, y1
    else:
        # gx1 is a non-square, so y1^2 = -gx1 and sqrt(g(Z u^2 x1)) = sqrt(-Z^3) u^3 y1.
        x = tv1 * x1 % P
        y = _C2 * u * u * u * y1 % P
    if (u & 1) != (y & 1):
        y = P - y if y else 0
    return x, y


def _iso_map(x: Any, y: Any) -> _Jacobian:
    """The 11-isogeny E' -> E, returned in Jacobian coordinates to avoid two inversions."""
    P = _P
    x_num, x_den = _horner(_X_NUM, x), _horner(_X_DEN, x)
    y_num, y_den = _horner(_Y_NUM, x), _horner(_Y_DEN, x)
    if x_den == 0 or y_den == 0:  # an exceptional input of the isogeny maps to infinity
        return mpz(1), mpz(1), mpz(0)
    # X/Z^2 = x_num/x_den and Y/Z^3 = y y_num/y_den with Z = x_den y_den.
    z = x_den * y_den % P
    z2 = z * z % P
    return x_num * y_den % P * z % P, y * y_num % P * x_den % P * z2 % P, z


def _double(p1: _Jacobian) -> _Jacobian:
    P = _P
    x, y, z = p1
    if z == 0 or y == 0:
        return mpz(1), mpz(1), mpz(0)
    a = x * x % P
    b = y * y % P
    c = b * b % P
    d = 2 * ((x + b) * (x + b) - a - c) % P
    e = 3 * a % P
    x3 = (e * e - 2 * d) % P
    return x3, (e * (d - x3) - 8 * c) % P, 2 * y * z % P


def _add(p1: _Jacobian, p2: _Jacobian) -> _Jacobian:
    P = _P
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    h, r = (u2 - u1) % P, (s2 - s1) % P
    if h == 0:
        return _double(p1) if r == 0 else (mpz(1), mpz(1), mpz(0))
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return x3, (r * (v - x3) - s1 * hhh) % P, z1 * z2 % P * h % P


def _clear_cofactor(point: _Jacobian) -> _Jacobian:
    acc = point
    for bit in _H_EFF_BITS:
        acc = _double(acc)
        if bit == "1":
            acc = _add(acc, point)
    return acc


def hash_to_g1_affine(message: bytes, dst: bytes) -> AffineG1 | None:
    """``hash_to_curve`` for G1; the affine result, or None for the (negligible) infinity case."""
    u0, u1 = hash_to_field_fp(message, dst, 2)
    q = _add(_iso_map(*_map_to_isogenous_curve(u0)), _iso_map(*_map_to_isogenous_curve(u1)))
    x, y, z = _clear_cofactor(q)
    if z == 0:
        return None
    z_inv = gmpy2.invert(z, _P)
    z_inv2 = z_inv * z_inv % _P
    return int(x * z_inv2 % _P), int(y * z_inv2 % _P * z_inv % _P)


@lru_cache(maxsize=256)
def hash_to_g2_affine(message: bytes, dst: bytes) -> AffineG2 | None:
    """``hash_to_curve`` for G2 through py_ecc (slow, about 0.1 s; results are cached)."""
    sha256: Any = hashlib.sha256
    point = _pyecc_h2c.hash_to_G2(message, dst, sha256)
    if _curve.is_inf(point):
        return None
    x, y = _curve.normalize(point)
    return int(x.coeffs[0]), int(x.coeffs[1]), int(y.coeffs[0]), int(y.coeffs[1])
