"""Erasure-coded bulk storage (seed 000 V-E for large data), on zfec.

The AEAD ciphertext of a record is cut into ``t`` equal blocks (zero padded) and zfec adds
``n - t`` check blocks, so any ``t`` of the ``n`` fragments rebuild it. Fragment ``i`` (1-based,
the index of the node that keeps it) is committed by a tagged SHA-256 digest over the coding
parameters, its index and its bytes; the list of digests is the :class:`StorageCommitment` that
goes on chain. A holder serving a different fragment is caught and named by index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import zfec

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError, ThresholdError
from crypto.hashing import DIGEST_SIZE, digest
from crypto.storage.errors import CorruptFragmentError, NotEnoughFragmentsError

FRAGMENT_DIGEST_TAG = b"iomtshare/storage/fragment/v1"
COMMITMENT_DIGEST_TAG = b"iomtshare/storage/commitment/v1"

COMMITMENT_TYPE_TAG = tags.STORAGE_COMMITMENT
COMMITMENT_VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)
FRAGMENT_TYPE_TAG = tags.STORAGE_FRAGMENT
FRAGMENT_VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)

#: zfec works over GF(2^8), so it supports at most 256 fragments.
MAX_FRAGMENTS = 256


def check_parameters(threshold: int, total: int) -> None:
    """Raise :class:`ValueError` unless 1 <= threshold <= total <= 256."""
    if not 1 <= threshold <= total <= MAX_FRAGMENTS:
        raise ValueError(
            f"need 1 <= t <= n <= {MAX_FRAGMENTS}, got t={threshold}, n={total}"
        )


def _fragment_digest(threshold: int, total: int, length: int, index: int, payload: bytes) -> bytes:
    params = Writer().u16(threshold).u16(total).u64(length).u16(index).to_bytes()
    return digest(FRAGMENT_DIGEST_TAG, params, payload)


@dataclass(frozen=True, slots=True)
class Fragment:
    """Fragment ``index`` (1..n) of an erasure-coded object."""

    index: int
    payload: bytes

    def to_bytes(self) -> bytes:
        writer = Writer(FRAGMENT_TYPE_TAG, FRAGMENT_VERSION)
        return writer.u16(self.index).blob(self.payload).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fragment:
        """Decode :meth:`to_bytes`; raises :class:`DecodeError`."""

        def body(reader: Reader) -> Fragment:
            reader.expect_header(FRAGMENT_TYPE_TAG, FRAGMENT_VERSION)
            index = reader.u16()
            if not 1 <= index <= MAX_FRAGMENTS:
                raise DecodeError(f"fragment: index {index} out of range")
            return cls(index, reader.blob())

        return parse(data, "fragment", body)


@dataclass(frozen=True, slots=True)
class StorageCommitment:
    """What the chain records about an erasure-coded object.

    ``threshold`` (t) fragments rebuild ``length`` bytes; ``fragment_digests[i - 1]`` commits
    fragment ``i``.
    """

    threshold: int
    total: int
    length: int
    fragment_digests: tuple[bytes, ...]

    def __post_init__(self) -> None:
        try:
            check_parameters(self.threshold, self.total)
        except ValueError as exc:
            raise DecodeError(f"storage commitment: {exc}") from exc
        if len(self.fragment_digests) != self.total:
            raise DecodeError("storage commitment: one digest per fragment is required")
        if any(len(d) != DIGEST_SIZE for d in self.fragment_digests):
            raise DecodeError(f"storage commitment: digests are {DIGEST_SIZE} bytes")
        if not 0 <= self.length < 1 << 64:
            raise DecodeError("storage commitment: length out of range")

    @property
    def block_size(self) -> int:
        """Bytes per fragment: the data split into ``t`` blocks, at least one byte each."""
        return max(1, -(-self.length // self.threshold))

    def digest(self) -> bytes:
        """A single digest naming this commitment (for indexes and signatures)."""
        return digest(COMMITMENT_DIGEST_TAG, self.to_bytes())

    def verify_fragment(self, fragment: Fragment) -> None:
        """Raise :class:`CorruptFragmentError` unless ``fragment`` is the committed one."""
        if not 1 <= fragment.index <= self.total:
            raise CorruptFragmentError(fragment.index, f"index outside 1..{self.total}")
        if len(fragment.payload) != self.block_size:
            raise CorruptFragmentError(
                fragment.index, f"{len(fragment.payload)} bytes, expected {self.block_size}"
            )
        expected = self.fragment_digests[fragment.index - 1]
        found = _fragment_digest(
            self.threshold, self.total, self.length, fragment.index, fragment.payload
        )
        if found != expected:
            raise CorruptFragmentError(fragment.index, "digest does not match the commitment")

    def to_bytes(self) -> bytes:
        writer = Writer(COMMITMENT_TYPE_TAG, COMMITMENT_VERSION)
        writer.u16(self.threshold).u16(self.total).u64(self.length)
        for value in self.fragment_digests:
            writer.fixed(value, DIGEST_SIZE)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> StorageCommitment:
        """Decode :meth:`to_bytes`; raises :class:`DecodeError`."""

        def body(reader: Reader) -> StorageCommitment:
            reader.expect_header(COMMITMENT_TYPE_TAG, COMMITMENT_VERSION)
            threshold, total, length = reader.u16(), reader.u16(), reader.u64()
            if not 1 <= total <= MAX_FRAGMENTS:
                raise DecodeError(f"storage commitment: {total} fragments out of range")
            digests = tuple(reader.fixed(DIGEST_SIZE) for _ in range(total))
            return cls(threshold, total, length, digests)

        return parse(data, "storage commitment", body)


@dataclass(frozen=True, slots=True)
class ErasureCoded:
    """The output of :func:`encode`: the commitment and all ``n`` fragments."""

    commitment: StorageCommitment
    fragments: tuple[Fragment, ...]


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """The output of :func:`rebuild`: the data and the fragments that failed their check."""

    data: bytes
    corrupt_indexes: tuple[int, ...]


def encode(data: bytes, threshold: int, total: int) -> ErasureCoded:
    """Erasure-code ``data`` into ``total`` fragments of which any ``threshold`` rebuild it.

    Raises :class:`ValueError` for parameters outside 1 <= t <= n <= 256.
    """
    check_parameters(threshold, total)
    length = len(data)
    block = max(1, -(-length // threshold))
    padded = bytes(data) + bytes(block * threshold - length)
    primary = tuple(padded[i * block : (i + 1) * block] for i in range(threshold))
    blocks = zfec.Encoder(threshold, total).encode(primary)
    fragments = tuple(Fragment(i + 1, bytes(b)) for i, b in enumerate(blocks))
    digests = tuple(
        _fragment_digest(threshold, total, length, f.index, f.payload) for f in fragments
    )
    return ErasureCoded(StorageCommitment(threshold, total, length, digests), fragments)


def rebuild(commitment: StorageCommitment, fragments: Iterable[Fragment]) -> Rebuilt:
    """Rebuild the committed data from any ``t`` valid fragments.

    Every offered fragment is checked against ``commitment``; those that fail are skipped and
    reported in :attr:`Rebuilt.corrupt_indexes`. Raises :class:`ThresholdError` if two offered
    fragments share an index, and :class:`NotEnoughFragmentsError` if fewer than ``t`` are valid.
    """
    valid: dict[int, bytes] = {}
    corrupt: list[int] = []
    seen: set[int] = set()
    for fragment in fragments:
        if fragment.index in seen:
            raise ThresholdError(f"fragment {fragment.index} offered twice")
        seen.add(fragment.index)
        try:
            commitment.verify_fragment(fragment)
        except CorruptFragmentError:
            corrupt.append(fragment.index)
            continue
        valid[fragment.index] = fragment.payload
    t = commitment.threshold
    if len(valid) < t:
        raise NotEnoughFragmentsError(len(valid), t, tuple(sorted(corrupt)))
    # Primary blocks (indexes 1..t) decode without arithmetic, so prefer the lowest indexes.
    chosen = sorted(valid)[:t]
    blocks = zfec.Decoder(t, commitment.total).decode(
        tuple(valid[i] for i in chosen), tuple(i - 1 for i in chosen)
    )
    data = b"".join(bytes(b) for b in blocks)[: commitment.length]
    return Rebuilt(data, tuple(sorted(corrupt)))
