"""Ledger blocks built from consensus content, and consensus content read back from them.

How consensus items map to a ledger block:

* an ordinary transaction (any ledger transaction except an access request) is a ``TX`` item;
* an :class:`~ledger.transactions.AccessRequest` is a ``REQUEST`` item. Its block carries the
  request as a transaction followed, in the same block, by its
  :class:`~ledger.block.SharingResult`: granted with the ciphertext combined from its first t
  approvals (by node index), or denied, and the signed votes that decided it, each approval
  with its share.

A block's transactions are the ordinary ones first, then one request per result, in the order
of the results. A block is built before its proposer is elected (the claim carries it and the
prepare votes elect), so it carries no election QC: its commit QC is its proof. So every node
reads the consensus content back out of a ledger block, and each share, vote and signature is
in it once. Items are the node's decoded transactions (:mod:`node.items`), named by their
transaction ids.

Block time is the leader's wall clock. The ledger only asks that it never goes backwards; a
validator also refuses a block more than :data:`MAX_CLOCK_SKEW_MS` ahead of its own clock
(:meth:`BlockMaker.open`) and a freshly built proposal more than :data:`MAX_BLOCK_LAG_MS`
behind it (:meth:`BlockMaker.stale_proposal`), so a leader can neither push time forward nor
freeze it. Both bounds read this node's clock, so they are checked where blocks are proposed,
never when committed blocks are replayed or synced.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from consensus.app import BuiltBlock, OpenedBlock
from consensus.encoding import NO_ROUND, ItemKind
from consensus.errors import InvalidBlock, InvalidMessage
from consensus.item import Item
from consensus.messages import BlockContent, CommittedBlock, LeaderClaim
from consensus.votes import AuthVote, DecidedRequest
from crypto.errors import CryptoError, DecodeError
from ledger.block import (
    Block,
    BlockParts,
    SharingResult,
    header_of,
)
from ledger.errors import InvalidTransaction, LedgerError
from ledger.ledger import Ledger
from ledger.qc import AccessVote
from node.items import ItemDecoder, request_of, transaction_of
from node.shares import Shares

logger = logging.getLogger("iomtshare.node.blocks")

#: How far ahead of this node's clock a proposed block's time may be.
MAX_CLOCK_SKEW_MS = 30_000
#: How far behind this node's clock the time of a freshly built, proposed block may be.
MAX_BLOCK_LAG_MS = 30_000
# Blocks built or opened at the current height; a round has one proposal.
_KEPT_BLOCKS = 64

Result = tuple[DecidedRequest, SharingResult]


class BlockMaker:
    """Builds and opens the blocks of one node; ``clock_ms`` bounds proposed block times."""

    def __init__(
        self, ledger: Ledger, shares: Shares, items: ItemDecoder, clock_ms: Callable[[], int]
    ) -> None:
        self.ledger = ledger
        self.shares = shares
        self.items = items
        self._clock_ms = clock_ms
        #: Ids of the items the last build had to leave out (the node drops them).
        self.dropped: set[bytes] = set()
        self._blocks: dict[bytes, Block] = {}

    # -- building -----------------------------------------------------------------------------

    def build(self, content: BlockContent, admissible: Callable[[Item], bool]) -> BuiltBlock:
        """The ledger block of ``content``; items the ledger would refuse are left out (and
        listed in :attr:`dropped`) rather than failing the round."""
        txs = []
        for item in content.txs:
            if admissible(item):
                txs.append(item)
            else:
                self.dropped.add(item.item_id)
        results: list[Result] = []
        decided = [(d, True) for d in content.approved] + [(d, False) for d in content.denied]
        for request, granted in decided:
            try:
                results.append((request, self._result(request, granted)))
            except (CryptoError, DecodeError, LedgerError, InvalidBlock, InvalidMessage) as exc:
                logger.warning(
                    "request left out of block height=%d request=%s reason=%s",
                    content.height,
                    request.request_id.hex()[:16],
                    exc,
                )
                self.dropped.add(request.request_id)
        while True:
            try:
                block = self._assemble(content, txs, results)
            except InvalidTransaction as exc:
                logger.info("block item left out height=%d reason=%s", content.height, exc)
                self._drop(exc, txs, results)
                continue
            except LedgerError as exc:
                raise InvalidBlock(f"cannot build block {content.height}: {exc}") from exc
            break
        self._keep(block)
        held = dataclasses.replace(
            content,
            timestamp=block.header.time_ms,
            approved=tuple(d for d, r in results if r.granted),
            denied=tuple(d for d, r in results if not r.granted),
            txs=tuple(txs),
        )
        return BuiltBlock(block.to_bytes(), block.hash(), held)

    def _result(self, decided: DecidedRequest, granted: bool) -> SharingResult:
        tx = request_of(decided.request)
        combined = b""
        if granted:
            approvals = [(v.voter, v.share) for v in decided.votes if v.approve]
            combined = self.shares.combine(tx, decided.request_id, approvals)
        ordered = sorted(decided.votes, key=lambda v: v.voter)
        return SharingResult(
            request_id=decided.request_id,
            record_id=tx.record_id,
            requester=tx.requester,
            granted=granted,
            combined_ciphertext=combined,
            votes=tuple(AccessVote(v.voter, v.approve, v.share, v.signature) for v in ordered),
        )

    def _drop(self, exc: InvalidTransaction, txs: list[Item], results: list[Result]) -> None:
        """Remove the item a failed build named, remembering its id."""
        position = exc.index
        if exc.what == "transaction" and position < len(txs):
            self.dropped.add(txs.pop(position).item_id)
            return
        if exc.what == "transaction":
            position -= len(txs)
        if not 0 <= position < len(results):
            raise InvalidBlock(f"build failed on an item it cannot name: {exc}")
        self.dropped.add(results.pop(position)[0].request_id)

    def _assemble(
        self,
        content: BlockContent,
        txs: list[Item],
        results: list[Result],
    ) -> Block:
        transactions = [transaction_of(item) for item in txs]
        transactions += [request_of(decided.request) for decided, _ in results]
        head = self.ledger.head()
        return self.ledger.build_block(
            round=content.round,
            # Wall-clock block time from this node, not consensus's clock: consensus runs on
            # trio's clock, which only measures intervals (see node.consensus_loop).
            time_ms=max(self._clock_ms(), head.time_ms),
            proposer=content.proposer,
            transactions=transactions,
            results=[result for _, result in results],
            last_commit=self.ledger.commit_qc(head.height) if head.height else None,
        )

    # -- opening ------------------------------------------------------------------------------

    def stale_proposal(self, claim: LeaderClaim) -> str | None:
        """Why the block time of ``claim``'s block lags too far behind this node's clock, or
        None.

        Only a fresh block is judged: its claimant has just built it and stamped it with its
        clock. A re-proposal (``valid_round`` set) carries a block a quorum prepared in an
        earlier round, whose time was judged then, and which may be old by now.
        """
        if claim.valid_round != NO_ROUND:
            return None
        try:
            header = header_of(claim.block)
        except DecodeError:
            return None  # opening the block refuses it, with the reason
        lag = self._clock_ms() - header.time_ms
        if lag > MAX_BLOCK_LAG_MS:
            return f"block time is {lag} ms behind this node's clock (at most {MAX_BLOCK_LAG_MS})"
        return None

    def open(self, height: int, raw: bytes) -> OpenedBlock:
        """Check a proposed or synced block against the ledger and read its content back;
        raises :class:`InvalidBlock`."""
        try:
            block, items = self._decode(raw)
            content = self._content(height, block, items)
            self.ledger.validate(block)
        except (DecodeError, LedgerError, CryptoError, InvalidMessage) as exc:
            raise InvalidBlock(f"block {height} rejected: {exc}") from exc
        self._keep(block)
        return OpenedBlock(content, block.hash())

    def _decode(self, raw: bytes) -> tuple[Block, list[Item]]:
        """The block and its transactions as items, decoding only transactions this node has
        not decoded yet; raises :class:`DecodeError`."""
        parts = BlockParts.from_bytes(raw)
        items = [self.items.decode(body) for body in parts.transactions]
        return Block.from_parts(parts, [transaction_of(i) for i in items], raw), items

    def _content(self, height: int, block: Block, items: list[Item]) -> BlockContent:
        header = block.header
        if header.height != height:
            raise InvalidBlock(f"block says height {header.height}, expected {height}")
        if header.time_ms > self._clock_ms() + MAX_CLOCK_SKEW_MS:
            raise InvalidBlock("block time is in the future")
        results = block.results
        plain = len(items) - len(results)
        if plain < 0:
            raise InvalidBlock("results and requests do not line up")
        approved: list[DecidedRequest] = []
        denied: list[DecidedRequest] = []
        for result, item in zip(results, items[plain:], strict=True):
            if item.kind is not ItemKind.REQUEST or item.item_id != result.request_id:
                raise InvalidBlock("a sharing result does not follow its access request")
            votes = tuple(
                AuthVote(result.request_id, v.node_index, v.approve, v.share, v.signature)
                for v in result.votes
            )
            if result.granted:
                approvals = [(v.node_index, v.share) for v in result.votes if v.approve]
                combined = self.shares.combine(request_of(item), item.item_id, approvals)
                if combined != result.combined_ciphertext:
                    raise InvalidBlock("combined ciphertext does not match the shares")
                approved.append(DecidedRequest(item, votes))
            else:
                denied.append(DecidedRequest(item, votes))
        if any(item.kind is ItemKind.REQUEST for item in items[:plain]):
            raise InvalidBlock("an access request without a sharing result")
        return BlockContent(
            height,
            header.round,
            header.proposer,
            header.time_ms,
            tuple(approved),
            tuple(denied),
            tuple(items[:plain]),
        )

    # -- committing ---------------------------------------------------------------------------

    def committed(self, block: CommittedBlock) -> Block:
        """The decided block, as built or opened here (decoded again only if it was not), and
        forget the other candidates of its height."""
        decoded = self._blocks.get(block.block_hash)
        if decoded is None:
            decoded, _ = self._decode(block.block)
        self._blocks.clear()
        return decoded

    def _keep(self, block: Block) -> None:
        if len(self._blocks) >= _KEPT_BLOCKS:
            self._blocks.clear()
        self._blocks[block.hash()] = block
