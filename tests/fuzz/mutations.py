"""Byte-level mutations of valid encodings.

Random bytes rarely get past a decoder's type tag; a valid encoding with a few bytes changed
reaches every field behind it. The mutations are those the project's formats invite: a bit
flipped, a byte set to an edge value, a length or count prefix (u16/u32/u64 big-endian) replaced
by an edge value or nudged by one, bytes inserted, deleted, duplicated or cut off, the type tag
or version changed, and two valid encodings spliced together.

Hypothesis draws the valid encodings (from the test strategies and real corpora) and a seed;
:func:`mutants` then derives a batch of mutated inputs from them with :class:`random.Random`.
Drawing every byte of every mutant through Hypothesis costs about 2 ms an input, and its
bookkeeping grows with each example; a batch per example keeps both small, and a failing batch
still replays and shrinks, because the mutants are a pure function of what Hypothesis drew.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from hypothesis import strategies as st

from crypto.codec import MAX_FIELD_BYTES
from crypto.tags import REGISTRY

EDGE_BYTES = (0x00, 0x01, 0x02, 0x7F, 0x80, 0xFE, 0xFF)
EDGE_WORDS = {
    2: (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF),
    4: (
        0, 1, 2, 0x7F, 0xFF, 0x100, 0x3FF, 0x400, 0x401, 0x1000, 0x1001, 0xFFFF, 0x10000,
        1 << 20, (1 << 20) + 1, MAX_FIELD_BYTES, MAX_FIELD_BYTES + 1,
        0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF,
    ),
    8: (0, 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1),
}
#: Every registered type tag: changing one valid tag into another gets past the first check.
TAGS = tuple(sorted(REGISTRY.entries()))
#: Fewest inputs derived from each Hypothesis example (the first is the drawn encoding).
BATCH = 16

Mutation = Callable[[random.Random, bytearray, bytes], bytearray]


def _index(rng: random.Random, data: bytearray, *, end: bool = False) -> int:
    """A position in ``data`` (or just past its end if ``end``)."""
    return rng.randint(0, max(0, len(data) - (0 if end else 1)))


def _bytes(rng: random.Random, low: int, high: int) -> bytes:
    return rng.randbytes(rng.randint(low, high))


def flip_bit(rng: random.Random, data: bytearray, _: bytes) -> bytearray:
    if data:
        data[_index(rng, data)] ^= 1 << rng.randint(0, 7)
    return data


def set_byte(rng: random.Random, data: bytearray, _: bytes) -> bytearray:
    if data:
        edge = rng.random() < 0.5
        data[_index(rng, data)] = rng.choice(EDGE_BYTES) if edge else rng.randint(0, 255)
    return data


def set_word(rng: random.Random, data: bytearray, _: bytes) -> bytearray:
    """Overwrite a u16/u32/u64 (a length, count, index, height or time) with an edge value or
    its current value nudged by one."""
    width = rng.choice(sorted(EDGE_WORDS))
    if len(data) < width:
        return data
    at = rng.randint(0, len(data) - width)
    current = int.from_bytes(data[at : at + width], "big")
    nudged = [v for v in (current - 1, current + 1) if 0 <= v < 2 ** (8 * width)]
    value = rng.choice([*EDGE_WORDS[width], *nudged])
    data[at : at + width] = value.to_bytes(width, "big")
    return data


def insert(rng: random.Random, data: bytearray, _: bytes) -> bytearray:
    at = _index(rng, data, end=True)
    data[at:at] = _bytes(rng, 1, 16)
    return data


def delete(rng: random.Random, data: bytearray, _: bytes) -> bytearray:
    if data:
        at = _index(rng, data)
        del data[at : at + rng.randint(1, 16)]
    return data


def truncate(rng: random.Random, data: bytearray, _: bytes) -> bytearray:
    return data[: _index(rng, data, end=True)]


def append(rng: random.Random, data: bytearray, _: bytes) -> bytearray:
    return data + _bytes(rng, 1, 32)


def duplicate(rng: random.Random, data: bytearray, _: bytes) -> bytearray:
    """Repeat a slice elsewhere (a second copy of a field, a vote or an item)."""
    if not data:
        return data
    at = _index(rng, data)
    piece = data[at : at + rng.randint(1, 64)]
    to = _index(rng, data, end=True)
    data[to:to] = piece
    return data


def retag(rng: random.Random, data: bytearray, _: bytes) -> bytearray:
    """Change the type tag (byte 0) to another type's, or the version (byte 1)."""
    if len(data) >= 2 and rng.random() < 0.5:
        data[1] = rng.choice([0, 1, 2, 3, 0xFF, (data[1] + 1) % 256])
    elif data:
        data[0] = rng.choice(TAGS) if rng.random() < 0.7 else rng.randint(0, 255)
    return data


def splice(rng: random.Random, data: bytearray, other: bytes) -> bytearray:
    """The head of this encoding followed by the tail of another valid one."""
    return data[: _index(rng, data, end=True)] + other[rng.randint(0, len(other)) :]


MUTATIONS: tuple[Mutation, ...] = (
    flip_bit,
    set_byte,
    set_word,
    set_word,
    insert,
    delete,
    truncate,
    append,
    duplicate,
    retag,
    splice,
)


def mutate(rng: random.Random, data: bytes, other: bytes, max_steps: int = 3) -> bytes:
    """``data`` with one to ``max_steps`` mutations (``other`` is spliced in by one kind)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, max_steps)):
        out = rng.choice(MUTATIONS)(rng, out, other)
    return bytes(out)


def mutants(seed: bytes, other: bytes, rng_seed: int, count: int = BATCH) -> Iterator[bytes]:
    """``seed`` itself, then ``count - 1`` mutants of it, reproducibly from ``rng_seed``."""
    rng = random.Random(rng_seed)
    yield seed
    for _ in range(count - 1):
        yield mutate(rng, seed, other)


@st.composite
def mutated(draw: st.DrawFn, seeds: st.SearchStrategy[bytes]) -> bytes:
    """One mutant of an encoding from ``seeds``, as a strategy (for nested fields)."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    return mutate(rng, draw(seeds), draw(seeds))


def starts(
    seeds: st.SearchStrategy[bytes], header: bytes | None = None
) -> st.SearchStrategy[bytes]:
    """Where a batch starts: mostly a valid encoding, sometimes random bytes, or random bytes
    behind the right type tag and version (``header``)."""
    choices = [seeds, seeds, seeds, st.binary(max_size=300)]
    if header is not None:
        choices.append(st.binary(max_size=200).map(lambda body: header + body))
    return st.one_of(choices)
