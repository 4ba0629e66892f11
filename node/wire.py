"""Canonical encodings the node adds on top of consensus, ledger and crypto types.

* :class:`BlockEvidence`: what a ledger block keeps (in its opaque ``election_qc`` field) so any
  node can read the consensus content back out of it: the election QC and, per sharing result,
  the signed authorization votes (with re-encryption shares) that decided it.
* :class:`FragmentPut` / :class:`FragmentGet`: the two storage protocols between nodes.
* :class:`ShareList`: the re-encryption shares a granted result was combined from.
* :class:`FrameBatch`: consensus frames sent to one peer in one request (:mod:`node.peer_links`).

What a requester signs to be served a record's bulk data is :mod:`ledger.fetch`, shared with the
client library; :class:`FragmentGet` carries that signed fetch from node to node.

Type tags 0xE0-0xE7 belong to this module (see :mod:`crypto.tags`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.messages import AuthVote, ElectionVote
from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.hashing import DIGEST_SIZE
from crypto.signing import SIGNATURE_SIZE
from ledger.fetch import NONCE_SIZE

TAG_BLOCK_EVIDENCE = tags.NODE_BLOCK_EVIDENCE
TAG_FRAGMENT_PUT = tags.NODE_FRAGMENT_PUT
TAG_FRAGMENT_GET = tags.NODE_FRAGMENT_GET
TAG_SHARE_LIST = tags.NODE_SHARE_LIST
TAG_FRAME_BATCH = tags.NODE_FRAME_BATCH
VERSION = 1

MAX_VOTES = 0xFFFF
MAX_BATCH_FRAMES = 4096


@dataclass(frozen=True, slots=True)
class BlockEvidence:
    """Consensus evidence stored in a ledger block: the election QC and, for sharing result
    ``i`` of the block, the authorization votes of its bundle."""

    election_qc: tuple[ElectionVote, ...]
    result_votes: tuple[tuple[AuthVote, ...], ...]

    def to_bytes(self) -> bytes:
        w = Writer(TAG_BLOCK_EVIDENCE, VERSION)
        w.seq(self.election_qc, lambda ww, v: ww.raw(v.to_bytes()))
        w.seq(
            self.result_votes,
            lambda ww, votes: ww.seq(votes, lambda www, v: www.raw(v.to_bytes())),
        )
        return w.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> BlockEvidence:
        """Raises :class:`DecodeError` on anything malformed."""

        def body(r: Reader) -> BlockEvidence:
            r.expect_header(TAG_BLOCK_EVIDENCE, VERSION)
            qc = tuple(r.seq(ElectionVote.read, max_items=MAX_VOTES))
            votes = r.seq(
                lambda rr: tuple(rr.seq(AuthVote.read, max_items=MAX_VOTES)), max_items=4096
            )
            return cls(qc, tuple(votes))

        return parse(data, "block evidence", body)


@dataclass(frozen=True, slots=True)
class ShareList:
    """Encoded re-encryption shares (``crypto.tpre.ReEncryptionShare`` bytes), by node index."""

    shares: tuple[bytes, ...]

    def to_bytes(self) -> bytes:
        return Writer(TAG_SHARE_LIST, VERSION).seq(self.shares, lambda w, s: w.blob(s)).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ShareList:
        def body(r: Reader) -> ShareList:
            r.expect_header(TAG_SHARE_LIST, VERSION)
            return cls(tuple(r.seq(lambda rr: rr.blob(), max_items=MAX_VOTES)))

        return parse(data, "share list", body)


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

