"""Request/response envelopes: round trips, refusals of malformed bytes, stored vectors.

Set IOMTSHARE_REGEN_VECTORS=1 to rewrite tests/vectors/node_p2p_envelopes.json after a
deliberate format change.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import DecodeError
from node.p2p.envelope import (
    MAX_DETAIL_CHARS,
    REQUEST_TAG,
    RESPONSE_TAG,
    VERSION,
    RequestEnvelope,
    ResponseEnvelope,
    Status,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "node_p2p_envelopes.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"
REQUEST_HEADER = bytes([REQUEST_TAG, VERSION])
RESPONSE_HEADER = bytes([RESPONSE_TAG, VERSION])

statuses = st.sampled_from(list(Status))


@given(st.binary(max_size=4096))
def test_request_round_trip(payload: bytes) -> None:
    envelope = RequestEnvelope(payload)
    assert RequestEnvelope.from_bytes(envelope.to_bytes()) == envelope


@given(statuses, st.binary(max_size=4096))
def test_response_round_trip(status: Status, body: bytes) -> None:
    envelope = ResponseEnvelope(status, body)
    assert ResponseEnvelope.from_bytes(envelope.to_bytes()) == envelope


@given(st.binary(max_size=64))
def test_random_bytes_never_crash_the_parsers(data: bytes) -> None:
    # Anything but a clean parse must be a DecodeError (no IndexError, struct.error, ...).
    for parse in (RequestEnvelope.from_bytes, ResponseEnvelope.from_bytes):
        with contextlib.suppress(DecodeError):
            parse(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (RESPONSE_HEADER + b"\x00\x00\x00\x00", "type tag"),
        (bytes([REQUEST_TAG, VERSION + 1]) + b"\x00\x00\x00\x00", "version"),
        (REQUEST_HEADER + b"\x00\x00\x00\x05abc", "truncated"),
        (REQUEST_HEADER + b"\x00\x00\x00\x01ab", "trailing"),
    ],
)
def test_malformed_requests_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        RequestEnvelope.from_bytes(data)


def test_unknown_status_is_refused() -> None:
    with pytest.raises(DecodeError, match="unknown status 9"):
        ResponseEnvelope.from_bytes(RESPONSE_HEADER + b"\x09\x00\x00\x00\x00")


def test_error_details_are_bounded_and_never_ok() -> None:
    long = ResponseEnvelope.error(Status.INTERNAL, "x" * 10_000)
    assert len(long.detail) == MAX_DETAIL_CHARS
    assert ResponseEnvelope(Status.REJECTED, b"\xff\xfebad utf-8").detail.endswith("bad utf-8")
    with pytest.raises(ValueError, match="non-OK"):
        ResponseEnvelope.error(Status.OK, "fine")


def _build_vectors() -> dict[str, str]:
    return {
        "request_empty": RequestEnvelope(b"").to_bytes().hex(),
        "request_payload": RequestEnvelope(b"block range 1..8").to_bytes().hex(),
        "response_ok": ResponseEnvelope.ok(b"\x00\x01\x02").to_bytes().hex(),
        "response_bad_request": ResponseEnvelope.error(Status.BAD_REQUEST, "malformed")
        .to_bytes()
        .hex(),
        "response_rejected": ResponseEnvelope.error(Status.REJECTED, "not granted")
        .to_bytes()
        .hex(),
        "response_internal": ResponseEnvelope.error(Status.INTERNAL, "internal error")
        .to_bytes()
        .hex(),
        "response_busy": ResponseEnvelope.error(Status.BUSY, "server busy").to_bytes().hex(),
    }


def test_stored_vectors() -> None:
    built = _build_vectors()
    if REGENERATE:
        VECTORS.write_text(json.dumps(built, indent=2) + "\n")
    stored = json.loads(VECTORS.read_text())
    assert stored == built
    for name, encoded in stored.items():
        kind = RequestEnvelope if name.startswith("request") else ResponseEnvelope
        assert kind.from_bytes(bytes.fromhex(encoded)).to_bytes().hex() == encoded
