"""Canonical encodings of consensus messages: round trips and exact, typed rejection."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.encoding import ItemKind
from consensus.messages import AuthVote, PrepareVote, Submission, decode_message
from crypto.errors import DecodeError
from tests.consensus.strategies import ALL, WIRE


@pytest.mark.parametrize(("cls", "strategy"), ALL, ids=[c.__name__ for c, _ in ALL])
def test_round_trip(cls: Any, strategy: st.SearchStrategy[Any]) -> None:
    @settings(max_examples=40)
    @given(strategy)
    def check(value: Any) -> None:
        data = value.to_bytes()
        assert cls.from_bytes(data) == value
        assert cls.from_bytes(data).to_bytes() == data

    check()


@pytest.mark.parametrize(("cls", "strategy"), WIRE, ids=[c.__name__ for c, _ in WIRE])
def test_decode_message_dispatches_on_tag(cls: Any, strategy: st.SearchStrategy[Any]) -> None:
    @settings(max_examples=20)
    @given(strategy)
    def check(value: Any) -> None:
        decoded = decode_message(value.to_bytes())
        assert type(decoded) is cls
        assert decoded == value

    check()


@pytest.mark.parametrize(("cls", "strategy"), ALL, ids=[c.__name__ for c, _ in ALL])
def test_trailing_and_truncated_bytes_are_rejected(
    cls: Any, strategy: st.SearchStrategy[Any]
) -> None:
    @settings(max_examples=15)
    @given(strategy, st.data())
    def check(value: Any, data: st.DataObject) -> None:
        raw = value.to_bytes()
        with pytest.raises(DecodeError):
            cls.from_bytes(raw + b"\x00")
        cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        with pytest.raises(DecodeError):
            cls.from_bytes(raw[:cut])

    check()


def test_unknown_tag_and_version_are_rejected() -> None:
    raw = Submission(ItemKind.REQUEST, b"x").to_bytes()
    with pytest.raises(DecodeError, match="unknown consensus message tag"):
        decode_message(b"\x01" + raw[1:])
    with pytest.raises(DecodeError, match="version"):
        decode_message(raw[:1] + b"\x09" + raw[2:])
    with pytest.raises(DecodeError):
        decode_message(b"")


def test_deny_vote_with_share_is_rejected() -> None:
    vote = AuthVote(bytes(32), 1, False, b"share", bytes(64))
    with pytest.raises(DecodeError, match="deny vote"):
        AuthVote.from_bytes(vote.to_bytes())


def test_a_version_1_authorization_vote_is_refused() -> None:
    # Version 1 carried a second signature and named requests by a consensus-only hash.
    raw = AuthVote(bytes(32), 1, True, b"share", bytes(64)).to_bytes()
    assert raw[1] == 2
    with pytest.raises(DecodeError, match="version"):
        AuthVote.from_bytes(raw[:1] + b"\x01" + raw[2:])


def test_nil_and_block_votes_encode_differently() -> None:
    nil = PrepareVote(1, 0, 1, None, bytes(64))
    some = PrepareVote(1, 0, 1, bytes(32), bytes(64))
    assert nil.to_bytes() != some.to_bytes()
    assert PrepareVote.from_bytes(nil.to_bytes()).block_hash is None


def test_signing_bytes_bind_the_chain() -> None:
    vote = PrepareVote(5, 2, 3, bytes(32), bytes(64))
    assert vote.signing_bytes("chain-a") != vote.signing_bytes("chain-b")
    assert vote.signing_bytes("chain-a") == vote.signing_bytes("chain-a")


def test_index_zero_is_rejected() -> None:
    raw = bytearray(PrepareVote(5, 2, 3, None, bytes(64)).to_bytes())
    # voter index sits after the tag, version, height (8) and round (4)
    raw[14:16] = b"\x00\x00"
    with pytest.raises(DecodeError, match="index"):
        PrepareVote.from_bytes(bytes(raw))
