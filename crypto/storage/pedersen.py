"""Seed 000's verifiable splitting of small ciphertexts (section V-E), on G1 of BLS12-381.

The ciphertext is cut into 31-byte field elements, taken ``t`` at a time as the coefficients
``a_0..a_{t-1}`` of polynomials ``f1``; each ``f1`` gets a random companion ``f2`` with
coefficients ``b_k``, and the dealer publishes Pedersen commitments
``V_k = g0^(a_k) h0^(b_k)`` (``h0`` by hash-to-curve, so nobody knows ``log_g0 h0``). Server
``i`` receives ``(i, f1(i), f2(i))`` for every polynomial and checks
``g0^(f1(i)) h0^(f2(i)) = prod_k V_k^(i^k)`` (seed step 3). Any ``t`` fragments give back
the coefficients by interpolation, and the remaining fragments must agree with the result
(seed step 6). The commitments hide the data (the ``b_k`` are uniformly random); erasure coding
(:mod:`crypto.storage.erasure`) is the right tool for bulk data, this one for the ~1 KB records
whose every fragment must be checkable against public commitments.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError, ThresholdError
from crypto.groups import G1Element, Group
from crypto.groups.params import G1_BYTES, SCALAR_BYTES
from crypto.groups.scalars import scalar_from_bytes, scalar_to_bytes
from crypto.polynomial import basis_polynomials, evaluate_polynomial
from crypto.storage.erasure import Rebuilt
from crypto.storage.errors import CorruptFragmentError, NotEnoughFragmentsError

H0_DST = b"IOMTSHARE-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_PEDERSEN-H0_"
H0_LABEL = b"seed000/pedersen/h0"

PEDERSEN_COMMITMENT_TYPE_TAG = tags.STORAGE_PEDERSEN_COMMITMENT
PEDERSEN_FRAGMENT_TYPE_TAG = tags.STORAGE_PEDERSEN_FRAGMENT
PEDERSEN_VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)

#: Bytes per field element: 31 bytes always fit below the 255-bit group order.
CHUNK_BYTES = 31
#: The scheme is meant for metadata-sized records; bulk data goes to zfec.
MAX_PEDERSEN_BYTES = 1 << 20
MAX_SERVERS = 1024


@cache
def pedersen_base(group: Group) -> G1Element:
    """``h0``, the second Pedersen generator (hash-to-curve of a fixed label)."""
    return group.hash_to_g1(H0_LABEL, H0_DST)


def _chunks(data: bytes, threshold: int) -> list[list[int]]:
    """Field elements of ``data``, ``threshold`` per polynomial, zero-padded; at least one."""
    elements = [
        int.from_bytes(data[k : k + CHUNK_BYTES], "big") for k in range(0, len(data), CHUNK_BYTES)
    ]
    count = max(1, _ceil_div(len(elements), threshold))
    elements += [0] * (count * threshold - len(elements))
    return [elements[j * threshold : (j + 1) * threshold] for j in range(count)]


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _polynomial_count(length: int, threshold: int) -> int:
    return max(1, _ceil_div(_ceil_div(length, CHUNK_BYTES), threshold))


def _unchunk(polynomials: Sequence[Sequence[int]], length: int) -> bytes:
    out = bytearray()
    remaining = length
    for coefficients in polynomials:
        for value in coefficients:
            if remaining <= 0:
                break
            size = min(CHUNK_BYTES, remaining)
            if value >= 1 << (8 * size):
                # Only possible if the interpolated values are not the dealer's: a bad fragment.
                raise ValueError("reconstructed element does not fit its chunk")
            out += value.to_bytes(size, "big")
            remaining -= size
    return bytes(out)


@dataclass(frozen=True, slots=True)
class PedersenCommitment:
    """The public part of a split: ``t``, ``n``, data length and ``V[j][k]`` per polynomial."""

    threshold: int
    total: int
    length: int
    commitments: tuple[tuple[G1Element, ...], ...]

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= self.total <= MAX_SERVERS:
            raise ThresholdError(f"need 1 <= t <= n <= {MAX_SERVERS}")
        if not 0 <= self.length <= MAX_PEDERSEN_BYTES:
            raise ValueError(f"Pedersen splitting takes at most {MAX_PEDERSEN_BYTES} bytes")
        expected = _polynomial_count(self.length, self.threshold)
        if len(self.commitments) != expected or any(
            len(row) != self.threshold for row in self.commitments
        ):
            raise ValueError(f"expected {expected} rows of {self.threshold} commitments")

    @property
    def polynomial_count(self) -> int:
        return len(self.commitments)

    def to_bytes(self) -> bytes:
        writer = Writer(PEDERSEN_COMMITMENT_TYPE_TAG, PEDERSEN_VERSION)
        writer.u16(self.threshold).u16(self.total).u32(self.length)
        for row in self.commitments:
            for point in row:
                writer.fixed(bytes(point), G1_BYTES)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, group: Group, data: bytes) -> PedersenCommitment:
        """Decode; raises :class:`DecodeError`."""

        def body(reader: Reader) -> PedersenCommitment:
            reader.expect_header(PEDERSEN_COMMITMENT_TYPE_TAG, PEDERSEN_VERSION)
            threshold, total, length = reader.u16(), reader.u16(), reader.u32()
            if not 1 <= threshold <= total <= MAX_SERVERS or length > MAX_PEDERSEN_BYTES:
                raise DecodeError("Pedersen commitment: parameters out of range")
            rows = _polynomial_count(length, threshold)
            commitments = tuple(
                tuple(group.g1_from_bytes(reader.fixed(G1_BYTES)) for _ in range(threshold))
                for _ in range(rows)
            )
            return cls(threshold, total, length, commitments)

        return parse(data, "Pedersen commitment", body)


@dataclass(frozen=True, slots=True)
class PedersenFragment:
    """Server ``index``'s fragment: ``f1_j(index)`` and ``f2_j(index)`` for every polynomial."""

    index: int
    values: tuple[int, ...]
    blinds: tuple[int, ...]

    def to_bytes(self) -> bytes:
        writer = Writer(PEDERSEN_FRAGMENT_TYPE_TAG, PEDERSEN_VERSION).u16(self.index)
        writer.u32(len(self.values))
        for value in (*self.values, *self.blinds):
            writer.raw(scalar_to_bytes(value))
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> PedersenFragment:
        """Decode; raises :class:`DecodeError`."""

        def body(reader: Reader) -> PedersenFragment:
            reader.expect_header(PEDERSEN_FRAGMENT_TYPE_TAG, PEDERSEN_VERSION)
            index, count = reader.u16(), reader.u32()
            if index == 0:
                raise DecodeError("Pedersen fragment: index 0")
            if count > MAX_PEDERSEN_BYTES // CHUNK_BYTES + 1:
                raise DecodeError("Pedersen fragment: too many values")
            scalars = [scalar_from_bytes(reader.fixed(SCALAR_BYTES)) for _ in range(2 * count)]
            return cls(index, tuple(scalars[:count]), tuple(scalars[count:]))

        return parse(data, "Pedersen fragment", body)


@dataclass(frozen=True, slots=True)
class PedersenSplit:
    """The output of :func:`split`: the public commitment and one fragment per server."""

    commitment: PedersenCommitment
    fragments: tuple[PedersenFragment, ...]


def split(group: Group, data: bytes, threshold: int, total: int) -> PedersenSplit:
    """Seed steps 1-2: commit to ``data`` and cut it into ``total`` fragments (x_i = i).

    Raises :class:`ThresholdError` for bad (t, n) and ``ValueError`` for data over
    :data:`MAX_PEDERSEN_BYTES`.
    """
    if not 1 <= threshold <= total <= MAX_SERVERS:
        raise ThresholdError(f"need 1 <= t <= n <= {MAX_SERVERS}, got t={threshold}, n={total}")
    if len(data) > MAX_PEDERSEN_BYTES:
        raise ValueError(f"Pedersen splitting takes at most {MAX_PEDERSEN_BYTES} bytes")
    order, g0, h0 = group.order, group.g1, pedersen_base(group)
    polynomials = _chunks(data, threshold)
    blinds = [[secrets.randbelow(order) for _ in range(threshold)] for _ in polynomials]
    commitments = tuple(
        tuple(g0 * a + h0 * b for a, b in zip(f1, f2, strict=True))
        for f1, f2 in zip(polynomials, blinds, strict=True)
    )
    fragments = tuple(
        PedersenFragment(
            i,
            tuple(evaluate_polynomial(f1, i, order) for f1 in polynomials),
            tuple(evaluate_polynomial(f2, i, order) for f2 in blinds),
        )
        for i in range(1, total + 1)
    )
    return PedersenSplit(PedersenCommitment(threshold, total, len(data), commitments), fragments)


def verify_fragment(
    group: Group, commitment: PedersenCommitment, fragment: PedersenFragment
) -> None:
    """Seed step 3, a server's check of its fragment.

    All polynomials are checked at once with random 128-bit weights ``rho_j``:
    ``g0^(sum rho f1) h0^(sum rho f2) = prod_k (prod_j V_jk^rho_j)^(i^k)``; a fragment with any
    wrong value passes with probability about 2^-128. Raises :class:`CorruptFragmentError`
    naming the fragment.
    """
    index = fragment.index
    if not 1 <= index <= commitment.total:
        raise CorruptFragmentError(index, f"index outside 1..{commitment.total}")
    count = commitment.polynomial_count
    if len(fragment.values) != count or len(fragment.blinds) != count:
        raise CorruptFragmentError(index, f"expected {count} values per part")
    order = group.order
    weights = [secrets.randbits(128) | 1 for _ in range(count)]
    value_sum = sum(w * v for w, v in zip(weights, fragment.values, strict=True)) % order
    blind_sum = sum(w * b for w, b in zip(weights, fragment.blinds, strict=True)) % order
    left = group.g1 * value_sum + pedersen_base(group) * blind_sum
    right = group.g1_identity()
    power = 1
    for k in range(commitment.threshold):
        column = group.g1_identity()
        for w, row in zip(weights, commitment.commitments, strict=True):
            column = column + row[k] * w
        right = right + column * power
        power = power * index % order
    if left != right:
        raise CorruptFragmentError(index, "values do not match the Pedersen commitments")


def reconstruct(
    group: Group,
    commitment: PedersenCommitment,
    fragments: Iterable[PedersenFragment],
    *,
    check_commitments: bool = True,
) -> Rebuilt:
    """Rebuild the data from any ``t`` fragments (seed equation 5) and cross-check the rest.

    With ``check_commitments`` every fragment is first checked against ``commitment`` and bad
    ones are skipped and reported in :attr:`Rebuilt.corrupt_indexes`. The first ``t`` good
    fragments are interpolated; every further fragment must lie on the same polynomials
    (seed step 6) or it is reported as corrupt too. Raises :class:`NotEnoughFragmentsError` if
    fewer than ``t`` fragments are usable, :class:`ThresholdError` for a repeated index, and
    :class:`CorruptFragmentError` if step 6 finds a disagreement it cannot attribute (only
    possible with ``check_commitments=False``).
    """
    order, t = group.order, commitment.threshold
    offered = list(fragments)
    indexes = [f.index for f in offered]
    if len(set(indexes)) != len(indexes):
        raise ThresholdError("a fragment index was offered twice")
    good: list[PedersenFragment] = []
    corrupt: list[int] = []
    for fragment in offered:
        try:
            if check_commitments:
                verify_fragment(group, commitment, fragment)
            elif len(fragment.values) != commitment.polynomial_count:
                raise CorruptFragmentError(fragment.index, "wrong number of values")
        except CorruptFragmentError:
            corrupt.append(fragment.index)
            continue
        good.append(fragment)
    if len(good) < t:
        raise NotEnoughFragmentsError(len(good), t, tuple(sorted(corrupt)))
    chosen, rest = good[:t], good[t:]
    bases = basis_polynomials([f.index for f in chosen], order)
    polynomials = []
    for j in range(commitment.polynomial_count):
        coefficients = [0] * t
        for fragment, basis in zip(chosen, bases, strict=True):
            y = fragment.values[j]
            for k, b in enumerate(basis):
                coefficients[k] = (coefficients[k] + y * b) % order
        polynomials.append(coefficients)
    disagreeing = [
        f.index
        for f in rest
        if any(
            evaluate_polynomial(poly, f.index, order) != f.values[j]
            for j, poly in enumerate(polynomials)
        )
    ]
    if disagreeing:
        # With checked commitments this cannot happen (it would break the binding); without
        # them, a minority of bad fragments among the chosen t cannot be told apart here.
        raise CorruptFragmentError(
            disagreeing[0], "does not lie on the polynomials interpolated from the others"
        )
    try:
        data = _unchunk(polynomials, commitment.length)
    except ValueError as exc:
        raise CorruptFragmentError(chosen[0].index, str(exc)) from exc
    return Rebuilt(data, tuple(sorted(corrupt)))
