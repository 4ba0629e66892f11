"""The fast position-based decoder agrees with the Reader-based reference on every input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.codec import MAX_FIELD_BYTES, Writer
from crypto.errors import DecodeError
from ledger import fastread
from ledger.encoding import Encoded
from ledger.records import Counter
from tests.ledger.strategies import ALL_TYPES, for_type


def outcome(decode: object, data: bytes) -> object:
    try:
        return decode(data)  # type: ignore[operator]
    except DecodeError:
        return DecodeError


@st.composite
def damaged(draw: st.DrawFn, encoded: bytes) -> bytes:
    """``encoded`` with a byte changed, bytes cut or added, or a length prefix inflated."""
    how = draw(st.sampled_from(["flip", "cut", "append", "insert", "same"]))
    if how == "same" or not encoded:
        return encoded
    at = draw(st.integers(0, len(encoded) - 1))
    if how == "flip":
        return encoded[:at] + bytes([encoded[at] ^ draw(st.integers(1, 255))]) + encoded[at + 1 :]
    if how == "cut":
        return encoded[:at]
    extra = draw(st.binary(min_size=1, max_size=8))
    return encoded + extra if how == "append" else encoded[:at] + extra + encoded[at:]


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=30)
@given(data=st.data())
def test_fast_and_reference_decoders_agree(cls: type[Encoded], data: st.DataObject) -> None:
    encoded = data.draw(for_type(cls)).to_bytes()
    candidate = data.draw(damaged(encoded))
    fast = outcome(cls.from_bytes, candidate)
    reference = outcome(cls.from_bytes_with_reader, candidate)
    assert fast == reference
    if candidate == encoded:
        assert fast != DecodeError


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=10)
@given(noise=st.binary(max_size=64))
def test_decoders_agree_on_noise(cls: type[Encoded], noise: bytes) -> None:
    for candidate in (noise, bytes([cls.TAG, cls.VERSION]) + noise):
        assert outcome(cls.from_bytes, candidate) == outcome(cls.from_bytes_with_reader, candidate)


def test_input_types() -> None:
    encoded = Counter(7).to_bytes()
    assert Counter.from_bytes(bytearray(encoded)) == Counter(7)
    assert Counter.from_bytes(memoryview(encoded)) == Counter(7)
    for bad in ("not bytes", b""):
        with pytest.raises(DecodeError):
            Counter.from_bytes(bad)  # type: ignore[arg-type]


def _split_outcome(read: object, data: bytes) -> object:
    try:
        return read(data, 0)  # type: ignore[operator]
    except DecodeError as exc:
        return str(exc)


@settings(max_examples=60)
@given(items=st.lists(st.binary(max_size=20), max_size=5), data=st.data())
def test_blobs_splits_like_a_sequence_of_blobs(items: list[bytes], data: st.DataObject) -> None:
    encoded = Writer().seq(items, lambda w, item: w.blob(item)).to_bytes()
    candidate = data.draw(damaged(encoded))
    # Same items, same end position, and the same error message on a damaged encoding.
    assert _split_outcome(fastread.blobs, candidate) == _split_outcome(
        fastread.sequence(fastread.blob), candidate
    )
    assert fastread.blobs(encoded, 0) == (tuple(items), len(encoded))


def test_blobs_limits() -> None:
    too_many = (fastread.MAX_ITEMS + 1).to_bytes(4, "big")
    with pytest.raises(DecodeError, match="items exceeds limit"):
        fastread.blobs(too_many, 0)
    too_long = (1).to_bytes(4, "big") + (MAX_FIELD_BYTES + 1).to_bytes(4, "big")
    with pytest.raises(DecodeError, match="exceeds limit"):
        fastread.blobs(too_long, 0)
