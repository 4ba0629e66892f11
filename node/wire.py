"""Canonical encodings the node adds on top of consensus, ledger and crypto types (the
block itself, with its votes and shares, is the ledger's: :mod:`ledger.block`).

* :class:`FragmentPut` / :class:`FragmentGet`: the two storage protocols between nodes.
* :class:`FrameBatch`: consensus frames sent to one peer in one request (:mod:`node.peer_links`).

What a requester signs to be served a record's bulk data is its access token
(:mod:`ledger.access_token`, shared with the client library); :class:`FragmentGet` carries that
token from node to node.

Type tags 0xE0-0xE7 belong to this module (see :mod:`crypto.tags`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.hashing import DIGEST_SIZE
from ledger.access_token import AccessToken

TAG_FRAGMENT_PUT = tags.NODE_FRAGMENT_PUT
TAG_FRAGMENT_GET = tags.NODE_FRAGMENT_GET
TAG_FRAME_BATCH = tags.NODE_FRAME_BATCH
VERSION = 1
#: FragmentGet's version: 2 since it carries an access token.
FRAGMENT_GET_VERSION = 2
#: An encoded access token is at most 227 bytes; anything much longer is not one.
_MAX_TOKEN_BYTES = 512

MAX_BATCH_FRAMES = 4096


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Encoded consensus messages for one peer, in the order they were queued."""

    frames: tuple[bytes, ...]

    def to_bytes(self) -> bytes:
        w = Writer(TAG_FRAME_BATCH, VERSION)
        return w.seq(self.frames, lambda ww, f: ww.blob(f)).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> FrameBatch:
        """Raises :class:`DecodeError` on anything malformed or above MAX_BATCH_FRAMES."""

        def body(r: Reader) -> FrameBatch:
            r.expect_header(TAG_FRAME_BATCH, VERSION)
            return cls(tuple(r.seq(lambda rr: rr.blob(), max_items=MAX_BATCH_FRAMES)))

        return parse(data, "frame batch", body)


@dataclass(frozen=True, slots=True)
class FragmentPut:
    """Node-to-node: keep ``fragment`` (``crypto.storage.Fragment`` bytes) of ``record_id``."""

    record_id: bytes
    fragment: bytes = field(repr=False)

    def to_bytes(self) -> bytes:
        w = Writer(TAG_FRAGMENT_PUT, VERSION).fixed(self.record_id, DIGEST_SIZE)
        return w.blob(self.fragment).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> FragmentPut:
        def body(r: Reader) -> FragmentPut:
            r.expect_header(TAG_FRAGMENT_PUT, VERSION)
            return cls(r.fixed(DIGEST_SIZE), r.blob())

        return parse(data, "fragment put", body)


class OutdatedFragmentGet(DecodeError):
    """A fragment get of version 1: a signed fetch without an access token, which no node
    serves any more (see :mod:`ledger.access_token`)."""


@dataclass(frozen=True, slots=True)
class FragmentGet:
    """Node-to-node: send me your fragment of ``token.record_id`` for this access token (each
    node checks the token, its signature and the requester's standing itself).

    Version 2 carries the token's own encoding; version 1 (no token) is refused with
    :class:`OutdatedFragmentGet`.
    """

    token: AccessToken

    @property
    def record_id(self) -> bytes:
        return self.token.record_id

    def to_bytes(self) -> bytes:
        w = Writer(TAG_FRAGMENT_GET, FRAGMENT_GET_VERSION)
        return w.blob(self.token.to_bytes()).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> FragmentGet:
        """Raises :class:`DecodeError` (:class:`OutdatedFragmentGet` for version 1)."""

        def body(r: Reader) -> FragmentGet:
            if bytes(data[:2]) == bytes([TAG_FRAGMENT_GET, 1]):
                raise OutdatedFragmentGet(
                    "fragment get version 1 carries no access token; version 2 is served"
                )
            r.expect_header(TAG_FRAGMENT_GET, FRAGMENT_GET_VERSION)
            return cls(AccessToken.from_bytes(r.blob(_MAX_TOKEN_BYTES)))

        return parse(data, "fragment get", body)
