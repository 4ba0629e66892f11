"""zfec erasure-coded storage: any t fragments rebuild, bad ones are named, t-1 fail."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError, ThresholdError
from crypto.storage import (
    CorruptFragmentError,
    Fragment,
    NotEnoughFragmentsError,
    StorageCommitment,
    encode,
    rebuild,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "storage_erasure_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"

MB = 1 << 20


@st.composite
def coding_parameters(draw: st.DrawFn) -> tuple[int, int]:
    total = draw(st.integers(1, 16))
    threshold = draw(st.integers(1, min(total, 10)))
    return threshold, total


@settings(max_examples=80)
@given(st.binary(max_size=5000), coding_parameters(), st.randoms(use_true_random=False))
def test_any_threshold_fragments_rebuild_small(
    data: bytes, params: tuple[int, int], rng: random.Random
) -> None:
    threshold, total = params
    coded = encode(data, threshold, total)
    assert len(coded.fragments) == total
    subset = rng.sample(list(coded.fragments), threshold)
    assert rebuild(coded.commitment, subset).data == data
    if threshold > 1:
        with pytest.raises(NotEnoughFragmentsError):
            rebuild(coded.commitment, subset[:-1])


@settings(max_examples=6)
@given(st.integers(MB, 3 * MB + 17), coding_parameters(), st.integers(0, 2**32))
def test_any_threshold_fragments_rebuild_megabytes(
    size: int, params: tuple[int, int], seed: int
) -> None:
    # The bytes come from a seeded generator: hypothesis would refuse to draw megabytes itself.
    threshold, total = params
    rng = random.Random(seed)
    data = rng.randbytes(size)
    coded = encode(data, threshold, total)
    subset = rng.sample(list(coded.fragments), threshold)
    assert rebuild(coded.commitment, subset).data == data


def test_ten_of_sixteen_from_parity_only_fragments() -> None:
    data = os.urandom(2 * MB + 3)
    coded = encode(data, 10, 16)
    # Six parity fragments plus the last four data fragments: real decoding work.
    chosen = list(coded.fragments[6:])
    assert rebuild(coded.commitment, chosen).data == data


def test_corrupted_fragment_is_named_and_skipped() -> None:
    data = os.urandom(10_000)
    coded = encode(data, 3, 6)
    frags = list(coded.fragments)
    payload = bytearray(frags[1].payload)
    payload[17] ^= 0x01
    frags[1] = Fragment(2, bytes(payload))
    with pytest.raises(CorruptFragmentError) as info:
        coded.commitment.verify_fragment(frags[1])
    assert info.value.index == 2
    result = rebuild(coded.commitment, frags)
    assert result.data == data
    assert result.corrupt_indexes == (2,)
    # With the corrupt one among exactly t offered, rebuilding fails and names it.
    with pytest.raises(NotEnoughFragmentsError) as short:
        rebuild(coded.commitment, frags[:3])
    assert short.value.corrupt_indexes == (2,)
    assert short.value.valid == 2
    assert "corrupt: 2" in str(short.value)


def test_swapped_truncated_and_out_of_range_fragments_are_caught() -> None:
    coded = encode(b"x" * 999, 2, 4)
    first, second = coded.fragments[0], coded.fragments[1]
    for bad in [
        Fragment(1, second.payload),
        Fragment(1, first.payload[:-1]),
        Fragment(5, first.payload),
    ]:
        with pytest.raises(CorruptFragmentError) as info:
            coded.commitment.verify_fragment(bad)
        assert info.value.index == bad.index


def test_duplicate_indexes_are_refused() -> None:
    coded = encode(b"hello", 2, 3)
    with pytest.raises(ThresholdError):
        rebuild(coded.commitment, [coded.fragments[0], coded.fragments[0]])


def test_fragments_of_another_object_do_not_pass() -> None:
    one, other = encode(b"a" * 100, 2, 3), encode(b"b" * 100, 2, 3)
    with pytest.raises(NotEnoughFragmentsError):
        rebuild(one.commitment, other.fragments)


@pytest.mark.parametrize(("threshold", "total"), [(0, 3), (4, 3), (1, 257)])
def test_bad_parameters(threshold: int, total: int) -> None:
    with pytest.raises(ValueError, match="need 1 <= t <= n"):
        encode(b"data", threshold, total)


@settings(max_examples=50)
@given(st.binary(max_size=300), coding_parameters())
def test_commitment_and_fragment_round_trip(data: bytes, params: tuple[int, int]) -> None:
    coded = encode(data, *params)
    encoded = coded.commitment.to_bytes()
    assert StorageCommitment.from_bytes(encoded) == coded.commitment
    for fragment in coded.fragments:
        assert Fragment.from_bytes(fragment.to_bytes()) == fragment


def test_decoding_rejects_malformed_bytes() -> None:
    coded = encode(b"payload", 2, 3)
    good = coded.commitment.to_bytes()
    for bad in [good[:-1], good + b"\x00", good[:2] + b"\x00\x04" + good[4:], b"\x59" + good[1:]]:
        with pytest.raises(DecodeError):
            StorageCommitment.from_bytes(bad)
    frag = coded.fragments[0].to_bytes()
    for bad in [frag[:-1], frag + b"\x00", frag[:2] + b"\x00\x00" + frag[4:]]:
        with pytest.raises(DecodeError):
            Fragment.from_bytes(bad)


VECTOR_CASES = [(b"", 1, 1), (b"iomtshare", 2, 3), (bytes(range(256)) * 3, 4, 7)]


def test_stored_vectors() -> None:
    if REGENERATE:
        cases = []
        for data, threshold, total in VECTOR_CASES:
            coded = encode(data, threshold, total)
            cases.append(
                {
                    "data_hex": data.hex(),
                    "threshold": threshold,
                    "total": total,
                    "commitment_hex": coded.commitment.to_bytes().hex(),
                    "commitment_digest_hex": coded.commitment.digest().hex(),
                    "fragments_hex": [f.to_bytes().hex() for f in coded.fragments],
                }
            )
        VECTORS.write_text(json.dumps(cases, indent=2) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert len(stored) == len(VECTOR_CASES)
    for case in stored:
        data = bytes.fromhex(case["data_hex"])
        coded = encode(data, case["threshold"], case["total"])
        assert coded.commitment.to_bytes().hex() == case["commitment_hex"]
        assert coded.commitment.digest().hex() == case["commitment_digest_hex"]
        assert [f.to_bytes().hex() for f in coded.fragments] == case["fragments_hex"]
        commitment = StorageCommitment.from_bytes(bytes.fromhex(case["commitment_hex"]))
        fragments = [Fragment.from_bytes(bytes.fromhex(h)) for h in case["fragments_hex"]]
        assert rebuild(commitment, fragments[-case["threshold"] :]).data == data
