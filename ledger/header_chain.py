"""A light node's chain: block headers with their commit QCs, each checked against genesis.

An edge node (DESIGN: light node) keeps no block bodies and no state; it keeps the header of
every block with the commit QC that committed it (:class:`CertifiedHeader`). A header is
accepted only as the next link of the chain already held: same chain id, height one more than
the tip, ``prev_hash`` naming the tip's block hash (the genesis hash at height 1), a time that
does not go backwards, a proposer that is a genesis node, and a commit QC for exactly this
header's hash and height signed by a quorum of distinct genesis validators
(:func:`ledger.qc.verify_commit_qc`). :func:`verify_next` is pure; :class:`HeaderChain` stores
accepted headers in a key-value store (LevelDB in a running edge).
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto import tags
from ledger.block import BlockHeader
from ledger.encoding import U16, U64, Encoded, nested, sequence
from ledger.errors import InvalidBlock, LedgerError
from ledger.genesis import Genesis
from ledger.header_check import check_link
from ledger.kv import KeyValueStore
from ledger.qc import CommitQC, verify_commit_qc

TAG_CERTIFIED_HEADER = tags.LEDGER_CERTIFIED_HEADER
TAG_HEADER_BATCH = tags.LEDGER_HEADER_BATCH
TAG_HEADER_REQUEST = tags.LEDGER_HEADER_REQUEST
#: The most headers one request may ask for (a header with its QC is well under 1 KB).
MAX_HEADERS_PER_REQUEST = 256

_HEADER_PREFIX = b"h"
_TIP_KEY = b"tip"


class InvalidHeader(LedgerError):
    """A header (or its commit QC) that is not the next valid link of the chain held."""


@dataclass(frozen=True, slots=True)
class CertifiedHeader(Encoded):
    """A block header and the commit QC that committed it."""

    header: BlockHeader
    commit_qc: CommitQC

    TAG = TAG_CERTIFIED_HEADER
    FIELDS = (("header", nested(BlockHeader)), ("commit_qc", nested(CommitQC)))

    @property
    def height(self) -> int:
        return self.header.height

    def block_hash(self) -> bytes:
        return self.header.hash()


@dataclass(frozen=True, slots=True)
class HeaderRequest(Encoded):
    """Ask for up to ``count`` certified headers from height ``start`` on."""

    start: int
    count: int

    TAG = TAG_HEADER_REQUEST
    FIELDS = (("start", U64), ("count", U16))


@dataclass(frozen=True, slots=True)
class HeaderBatch(Encoded):
    """Consecutive certified headers, as a consensus node answers a header request."""

    headers: tuple[CertifiedHeader, ...]

    TAG = TAG_HEADER_BATCH
    FIELDS = (("headers", sequence(nested(CertifiedHeader))),)


@dataclass(frozen=True, slots=True)
class Tip:
    """The last accepted link: its height, block hash and time (height 0: genesis itself)."""

    height: int
    block_hash: bytes
    time_ms: int

    @classmethod
    def of_genesis(cls, genesis: Genesis) -> Tip:
        return cls(0, genesis.hash(), 0)


def verify_next(genesis: Genesis, tip: Tip, certified: CertifiedHeader) -> Tip:
    """Check that ``certified`` is the next link after ``tip``; return the new tip.

    Raises :class:`InvalidHeader` naming the failed check.
    """
    header = certified.header
    block_hash = header.hash()
    try:
        check_link(genesis, header, tip.height, tip.block_hash, tip.time_ms)
        verify_commit_qc(genesis, certified.commit_qc, height=header.height, block_hash=block_hash)
    except InvalidBlock as exc:
        raise InvalidHeader(f"header {header.height}: {exc}") from exc
    return Tip(header.height, block_hash, header.time_ms)


class HeaderChain:
    """Accepted certified headers in ``store``, height-keyed, with the tip beside them."""

    def __init__(self, store: KeyValueStore, genesis: Genesis) -> None:
        self._store = store
        self._genesis = genesis
        self._tip = Tip.of_genesis(genesis)
        raw = store.get(_TIP_KEY)
        if raw is not None:
            stored = self.get(int.from_bytes(raw, "big"))
            if stored is None:
                raise LedgerError("header store names a tip it does not hold")
            header = stored.header
            self._tip = Tip(header.height, header.hash(), header.time_ms)

    @property
    def tip(self) -> Tip:
        return self._tip

    @property
    def height(self) -> int:
        return self._tip.height

    def get(self, height: int) -> CertifiedHeader | None:
        raw = self._store.get(_key(height))
        return None if raw is None else CertifiedHeader.from_bytes(raw)

    def extend(self, certified: CertifiedHeader) -> Tip:
        """Verify ``certified`` as the next link, then store it durably with the new tip.

        Raises :class:`InvalidHeader` (nothing is stored then)."""
        tip = verify_next(self._genesis, self._tip, certified)
        with self._store.atomic_batch() as batch:
            batch.put(_key(tip.height), certified.to_bytes())
            batch.put(_TIP_KEY, tip.height.to_bytes(8, "big"))
        self._tip = tip
        return tip


def _key(height: int) -> bytes:
    return _HEADER_PREFIX + height.to_bytes(8, "big")


__all__ = [
    "CertifiedHeader",
    "HeaderBatch",
    "HeaderChain",
    "HeaderRequest",
    "InvalidHeader",
    "Tip",
    "verify_next",
]
