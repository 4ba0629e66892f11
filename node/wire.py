"""Canonical encodings the node adds on top of consensus, ledger and crypto types (the
block itself, with its votes and shares, is the ledger's: :mod:`ledger.block`).

* :class:`FragmentPut` / :class:`FragmentGet`: the two storage protocols between nodes.
* :class:`FrameBatch`: consensus frames sent to one peer in one request (:mod:`node.peer_links`).

What a requester signs to be served a record's bulk data is :mod:`ledger.fetch`, shared with the
client library; :class:`FragmentGet` carries that signed fetch from node to node.

Type tags 0xE0-0xE7 belong to this module (see :mod:`crypto.tags`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.hashing import DIGEST_SIZE
from crypto.signing import SIGNATURE_SIZE
from ledger.fetch import NONCE_SIZE

TAG_FRAGMENT_PUT = tags.NODE_FRAGMENT_PUT
TAG_FRAGMENT_GET = tags.NODE_FRAGMENT_GET
TAG_FRAME_BATCH = tags.NODE_FRAME_BATCH
VERSION = 1

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


@dataclass(frozen=True, slots=True)
class FragmentGet:
    """Node-to-node: send me your fragment of ``record_id`` for this signed fetch by
    ``requester`` (each node checks the signature and the requester's grant itself)."""

    record_id: bytes
    requester: bytes
    timestamp_ms: int
    nonce: bytes
    signature: bytes

    def to_bytes(self) -> bytes:
        w = Writer(TAG_FRAGMENT_GET, VERSION).fixed(self.record_id, DIGEST_SIZE)
        w.fixed(self.requester, DIGEST_SIZE).u64(self.timestamp_ms)
        return w.fixed(self.nonce, NONCE_SIZE).fixed(self.signature, SIGNATURE_SIZE).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> FragmentGet:
        def body(r: Reader) -> FragmentGet:
            r.expect_header(TAG_FRAGMENT_GET, VERSION)
            return cls(
                r.fixed(DIGEST_SIZE),
                r.fixed(DIGEST_SIZE),
                r.u64(),
                r.fixed(NONCE_SIZE),
                r.fixed(SIGNATURE_SIZE),
            )

        return parse(data, "fragment get", body)

