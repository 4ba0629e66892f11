"""Parts of mcl's C API that pymcl does not wrap: precomputed Miller loops and the GT test.

pymcl's extension module is linked with all of mcl and exports its C API (``mclBn_*``), and a
pymcl object is a pybind11 instance whose first field after the Python object header is a
pointer to the mcl value it wraps. mcl's C structs (``mclBnG1``, ``mclBnG2``, ``mclBnGT``)
have the same layout as its C++ classes, so that pointer can be handed to the C functions.

Two things are used:

* ``mclBn_precomputeG2`` / ``mclBn_precomputedMillerLoop``: the Miller loop of e(P, Q) spends
  part of its time on line functions that depend only on Q. For a Q that is paired many times
  (a node's re-key share rk_i, a proof response checked against two G1 points) they are computed
  once (about 0.1 ms, 20 KiB) and each later pairing saves about a quarter of its Miller loop.
* ``mclBnGT_isValid``: mcl's test that an Fp12 element has order r, about twice as fast as the
  square-and-multiply by r it replaces.
* ``mclBnGT_powGeneric``: a power of any Fp12 element (pymcl's ``**`` is only right inside GT),
  for values whose membership in GT was never checked.

Nothing here is trusted blindly: :func:`load_native` checks the pointer layout and every
function against pymcl's own results on known inputs and returns None if anything disagrees or
is missing, in which case the backend keeps using plain pymcl.
"""

from __future__ import annotations

import ctypes
from typing import Any

import pymcl

from crypto.groups.params import FP_BYTES, GT_BYTES, P

# A pybind11 instance: the Python object header, then the pointer to the wrapped C++ value.
_VALUE_POINTER_OFFSET = object.__basicsize__

_PTR = ctypes.c_void_p


def value_address(obj: Any) -> int:
    """Address of the mcl value inside a pymcl object (checked by :func:`load_native`)."""
    address = ctypes.c_void_p.from_address(id(obj) + _VALUE_POINTER_OFFSET).value
    if address is None:
        raise RuntimeError("pymcl object without a value")
    return address


class NativeMcl:
    """Typed handles on the C functions, bound once; see the module docstring."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        def bind(name: str, args: list[Any], result: Any = None) -> Any:
            fn = getattr(lib, name)
            fn.argtypes = args
            fn.restype = result
            return fn

        self._precompute = bind("mclBn_precomputeG2", [_PTR, _PTR])
        self._miller_loop = bind("mclBn_precomputedMillerLoop", [_PTR, _PTR, _PTR])
        self._final_exp = bind("mclBn_finalExp", [_PTR, _PTR])
        self._is_valid_gt = bind("mclBnGT_isValid", [_PTR], ctypes.c_int)
        self._pow_generic = bind("mclBnGT_powGeneric", [_PTR, _PTR, _PTR])
        self._serializers = {
            pymcl.G1: bind("mclBnG1_serialize", [_PTR, ctypes.c_size_t, _PTR], ctypes.c_size_t),
            pymcl.G2: bind("mclBnG2_serialize", [_PTR, ctypes.c_size_t, _PTR], ctypes.c_size_t),
            pymcl.GT: bind("mclBnGT_serialize", [_PTR, ctypes.c_size_t, _PTR], ctypes.c_size_t),
        }
        words = bind("mclBn_getUint64NumToPrecompute", [], ctypes.c_int)()
        if not 0 < words < 1 << 20:
            raise RuntimeError("mcl reports an implausible precomputation size")
        self._lines_type: type[ctypes.Array[ctypes.c_uint64]] = ctypes.c_uint64 * words

    def serialize(self, obj: Any) -> bytes:
        """mcl's serialization of a G1, G2 or GT value, read through its address."""
        buffer = ctypes.create_string_buffer(1024)
        size = self._serializers[type(obj)](buffer, len(buffer), value_address(obj))
        return buffer.raw[:size]

    def precompute_g2(self, q: pymcl.G2) -> ctypes.Array[ctypes.c_uint64]:
        """The Miller-loop line coefficients of ``q`` (a fresh buffer owned by the caller)."""
        if type(q) is not pymcl.G2:
            raise TypeError("precomputation needs a pymcl G2 point")
        lines = self._lines_type()
        self._precompute(lines, value_address(q))
        return lines

    def pairing_with_lines(self, p: pymcl.G1, lines: ctypes.Array[ctypes.c_uint64]) -> pymcl.GT:
        """e(p, q) for the q whose ``lines`` these are."""
        if type(p) is not pymcl.G1:
            raise TypeError("pairing needs a pymcl G1 point")
        if type(lines) is not self._lines_type:  # mcl reads exactly this many words
            raise TypeError("lines must come from precompute_g2")
        out = pymcl.GT()  # a new object nobody else holds, written in place
        address = value_address(out)
        self._miller_loop(address, value_address(p), lines)
        self._final_exp(address, address)
        return out

    def power_generic(self, element: pymcl.GT, exponent: pymcl.Fr) -> pymcl.GT:
        """element^exponent by plain square-and-multiply, right for any Fp12 value.

        pymcl's ``**`` uses an endomorphism that is only valid inside GT.
        """
        if type(element) is not pymcl.GT or type(exponent) is not pymcl.Fr:
            raise TypeError("the generic power needs a pymcl GT value and an Fr exponent")
        out = pymcl.GT()
        self._pow_generic(value_address(out), value_address(element), value_address(exponent))
        return out

    def has_order_r(self, element: pymcl.GT) -> bool:
        """Whether ``element`` (any non-zero Fp12 value) lies in the order-r subgroup GT."""
        if type(element) is not pymcl.GT:
            raise TypeError("the GT test needs a pymcl GT value")
        return bool(self._is_valid_gt(value_address(element)))


def _fr(k: int) -> pymcl.Fr:
    return pymcl.Fr.deserialize(k.to_bytes(32, "little"))


def _self_test(native: NativeMcl) -> None:
    p, q = pymcl.g1 * _fr(0x1234567), pymcl.g2 * _fr(0x89ABCDEF)
    e = pymcl.pairing(p, q)
    for obj in (p, q, e):
        if native.serialize(obj) != obj.serialize():
            raise RuntimeError("pymcl's object layout is not the one expected")
    lines = native.precompute_g2(q)
    for point, expected in ((p, e), (pymcl.g1, pymcl.pairing(pymcl.g1, q))):
        if native.pairing_with_lines(point, lines) != expected:
            raise RuntimeError("mcl's precomputed pairing disagrees with pymcl")
    coefficients = (P - 1).to_bytes(FP_BYTES, "little") + bytes(GT_BYTES - FP_BYTES)
    minus_one = pymcl.GT.deserialize(coefficients)
    if minus_one.is_one() or minus_one * minus_one != pymcl.GT():
        raise RuntimeError("could not build -1 in Fp12")
    two = pymcl.GT.deserialize((2).to_bytes(FP_BYTES, "little") + bytes(GT_BYTES - FP_BYTES))
    if native.power_generic(two, _fr(5)) != two * two * two * two * two:
        raise RuntimeError("mcl's generic power disagrees with repeated products")
    if native.power_generic(e, _fr(0xFEDCBA987654321)) != e ** _fr(0xFEDCBA987654321):
        raise RuntimeError("mcl's generic power disagrees with pymcl's in GT")
    # -1 has order 2, so e * (-1) is outside GT while e and 1 are inside.
    if not native.has_order_r(e) or not native.has_order_r(pymcl.GT()):
        raise RuntimeError("mcl's GT test rejects an element of GT")
    if native.has_order_r(e * minus_one) or native.has_order_r(minus_one):
        raise RuntimeError("mcl's GT test accepts an element outside GT")


def load_native() -> NativeMcl | None:
    """The checked C API, or None if it is missing or fails its known-answer tests."""
    try:
        native = NativeMcl(ctypes.CDLL(pymcl._pymcl.__file__))
        _self_test(native)
    except (OSError, AttributeError, RuntimeError, ValueError, TypeError):
        return None
    return native
