"""Seed 000's Pedersen-committed splitting of small ciphertexts, on both backends."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError, ThresholdError
from crypto.groups import Group, load_group
from crypto.storage import CorruptFragmentError, NotEnoughFragmentsError
from crypto.storage.pedersen import (
    MAX_PEDERSEN_BYTES,
    PedersenCommitment,
    PedersenFragment,
    reconstruct,
    split,
    verify_fragment,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "storage_pedersen_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"


def _tamper(fragment: PedersenFragment, *, blind: bool = False) -> PedersenFragment:
    if blind:
        return PedersenFragment(
            fragment.index, fragment.values, (fragment.blinds[0] + 1, *fragment.blinds[1:])
        )
    return PedersenFragment(
        fragment.index, (fragment.values[0] + 1, *fragment.values[1:]), fragment.blinds
    )


def test_every_fragment_verifies_and_any_t_rebuild(group: Group) -> None:
    data = os.urandom(200 if group.name == "py_ecc" else 1500)
    threshold, total = (2, 3) if group.name == "py_ecc" else (4, 7)
    result = split(group, data, threshold, total)
    for fragment in result.fragments:
        verify_fragment(group, result.commitment, fragment)
    chosen = random.Random(7).sample(list(result.fragments), threshold)
    assert reconstruct(group, result.commitment, chosen).data == data


@settings(max_examples=40)
@given(
    st.binary(max_size=2000),
    st.integers(1, 16).flatmap(lambda n: st.tuples(st.integers(1, min(n, 10)), st.just(n))),
    st.randoms(use_true_random=False),
)
def test_any_t_fragments_rebuild_property(
    data: bytes, params: tuple[int, int], rng: random.Random
) -> None:
    group = load_group("mcl")
    threshold, total = params
    result = split(group, data, threshold, total)
    # Interpolation alone here (commitment checks are covered elsewhere and cost G1 work).
    chosen = rng.sample(list(result.fragments), rng.randint(threshold, total))
    rebuilt = reconstruct(group, result.commitment, chosen, check_commitments=False)
    assert rebuilt.data == data
    assert rebuilt.corrupt_indexes == ()


def test_corrupt_fragment_is_named(group: Group) -> None:
    result = split(group, b"normalized ciphertext " * 4, 2, 4)
    fragments = list(result.fragments)
    for blind in (False, True):
        bad = _tamper(fragments[2], blind=blind)
        with pytest.raises(CorruptFragmentError) as info:
            verify_fragment(group, result.commitment, bad)
        assert info.value.index == 3
    fragments[2] = _tamper(fragments[2])
    rebuilt = reconstruct(group, result.commitment, fragments)
    assert rebuilt.data == b"normalized ciphertext " * 4
    assert rebuilt.corrupt_indexes == (3,)


def test_step_six_catches_a_fragment_off_the_polynomials(mcl: Group) -> None:
    data = os.urandom(300)
    result = split(mcl, data, 3, 5)
    fragments = list(result.fragments)
    fragments[4] = _tamper(fragments[4])
    with pytest.raises(CorruptFragmentError) as info:
        reconstruct(mcl, result.commitment, fragments, check_commitments=False)
    assert info.value.index == 5


def test_fewer_than_t_fail_cleanly(mcl: Group) -> None:
    result = split(mcl, b"x" * 100, 3, 5)
    with pytest.raises(NotEnoughFragmentsError) as info:
        reconstruct(mcl, result.commitment, result.fragments[:2])
    assert info.value.needed == 3
    bad = [result.fragments[0], result.fragments[1], _tamper(result.fragments[2])]
    with pytest.raises(NotEnoughFragmentsError) as with_bad:
        reconstruct(mcl, result.commitment, bad)
    assert with_bad.value.corrupt_indexes == (3,)
    with pytest.raises(ThresholdError):
        reconstruct(mcl, result.commitment, [result.fragments[0]] * 3)


def test_fragments_of_another_split_are_rejected(mcl: Group) -> None:
    one, other = split(mcl, b"a" * 64, 2, 3), split(mcl, b"a" * 64, 2, 3)
    with pytest.raises(CorruptFragmentError):
        verify_fragment(mcl, one.commitment, other.fragments[0])
    with pytest.raises(CorruptFragmentError):
        verify_fragment(
            mcl,
            one.commitment,
            PedersenFragment(4, one.fragments[0].values, one.fragments[0].blinds),
        )


def test_parameters_and_limits(mcl: Group) -> None:
    with pytest.raises(ThresholdError):
        split(mcl, b"x", 3, 2)
    with pytest.raises(ValueError, match="at most"):
        split(mcl, bytes(MAX_PEDERSEN_BYTES + 1), 2, 3)


def test_encodings_round_trip_and_reject_garbage(mcl: Group) -> None:
    result = split(mcl, os.urandom(100), 2, 3)
    encoded = result.commitment.to_bytes()
    assert PedersenCommitment.from_bytes(mcl, encoded) == result.commitment
    for fragment in result.fragments:
        assert PedersenFragment.from_bytes(fragment.to_bytes()) == fragment
    frag = result.fragments[0].to_bytes()
    for bad_commitment in [
        encoded[:-1],
        encoded + b"\x00",
        encoded[:2] + b"\x00\x04" + encoded[4:],
    ]:
        with pytest.raises(DecodeError):
            PedersenCommitment.from_bytes(mcl, bad_commitment)
    for bad_fragment in [frag[:-1], frag + b"\x00", frag[:2] + b"\x00\x00" + frag[4:]]:
        with pytest.raises(DecodeError):
            PedersenFragment.from_bytes(bad_fragment)
    # A value that is not a reduced scalar.
    with pytest.raises(DecodeError):
        PedersenFragment.from_bytes(frag[:8] + b"\xff" * 32 + frag[40:])


def test_stored_vectors(group: Group) -> None:
    if REGENERATE and group.name == "mcl":
        data = bytes(range(100))
        result = split(group, data, 2, 3)
        case = {
            "data_hex": data.hex(),
            "commitment_hex": result.commitment.to_bytes().hex(),
            "fragments_hex": [f.to_bytes().hex() for f in result.fragments],
        }
        VECTORS.write_text(json.dumps(case, indent=2) + "\n")
    case = json.loads(VECTORS.read_text())
    commitment = PedersenCommitment.from_bytes(group, bytes.fromhex(case["commitment_hex"]))
    assert commitment.to_bytes().hex() == case["commitment_hex"]
    fragments = [PedersenFragment.from_bytes(bytes.fromhex(h)) for h in case["fragments_hex"]]
    rebuilt = reconstruct(group, commitment, fragments[1:])
    assert rebuilt.data.hex() == case["data_hex"]
