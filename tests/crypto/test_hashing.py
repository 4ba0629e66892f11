"""Domain-separated hashing: the streamed digest equals SHA-256 of the length-prefixed input."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.codec import join_chunks
from crypto.hashing import digest, digest_to_int


@given(tag=st.binary(min_size=1, max_size=40), parts=st.lists(st.binary(max_size=80), max_size=6))
def test_digest_is_sha256_of_length_prefixed_chunks(tag: bytes, parts: list[bytes]) -> None:
    assert digest(tag, *parts) == hashlib.sha256(join_chunks((tag, *parts))).digest()


def test_no_concatenation_collisions() -> None:
    assert digest(b"t", b"ab", b"c") != digest(b"t", b"a", b"bc")
    assert digest(b"t", b"abc") != digest(b"ta", b"bc")


def test_empty_tag_refused() -> None:
    with pytest.raises(ValueError, match="tag"):
        digest(b"")


def test_digest_to_int_is_reduced() -> None:
    assert 0 <= digest_to_int(b"t", 97, b"x") < 97
