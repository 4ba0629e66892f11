"""Compiled decoders accept exactly what the field-by-field decoder accepts, with equal results
and equal errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from ledger import encoding
from ledger.encoding import Encoded
from ledger.genesis import Genesis
from tests.ledger.strategies import ALL_TYPES, for_type
from tests.ledger.test_fastread import damaged


def outcome(decode: object, data: bytes) -> object:
    try:
        return decode(data)  # type: ignore[operator]
    except DecodeError as exc:
        return str(exc)


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=40)
@given(data=st.data())
def test_compiled_and_field_by_field_decoders_agree(
    cls: type[Encoded], data: st.DataObject
) -> None:
    value = data.draw(for_type(cls))
    encoded = value.to_bytes()
    assert cls.from_bytes(encoded) == value
    candidate = data.draw(damaged(encoded))
    compiled = outcome(cls.from_bytes, candidate)
    assert compiled == outcome(cls.from_bytes_by_field, candidate)
    if not isinstance(compiled, str):
        # Types that cache their encoding remember exactly the input.
        assert compiled.to_bytes() == candidate
        if cls.CACHED_ENCODING is not None:
            assert getattr(compiled, cls.CACHED_ENCODING) == candidate


def test_every_type_without_cross_field_rules_is_compiled() -> None:
    for cls in ALL_TYPES:
        by_field = encoding._decoder(cls) == cls.from_bytes_by_field
        assert by_field == (cls is Genesis), cls.__name__
