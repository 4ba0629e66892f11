"""The header checks of a block about to be applied: chain, height, links, time, proposer,
body roots and the carried commit QC of the previous block.

:func:`check_header` runs before :func:`ledger.transition.execute` validates the block's items.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.block import Block, BlockHeader
from ledger.errors import InvalidBlock
from ledger.genesis import Genesis
from ledger.qc import verify_commit_qc
from ledger.records import Head


def check_header(
    genesis: Genesis,
    head: Head,
    block: Block,
    tx_ids: Sequence[bytes] | None = None,
    *,
    verified_head_qc: bytes | None = None,
) -> None:
    """Check ``block``'s header, body roots and carried commit QC against the tip ``head``.

    ``tx_ids`` may pass the block's already computed transaction ids. ``verified_head_qc`` is
    the encoding of a commit QC of ``head`` that the caller has itself verified: a carried QC
    with exactly these bytes needs no second signature check. Raises :class:`InvalidBlock`.
    """
    header = block.header
    check_link(genesis, header, head.height, head.block_hash, head.time_ms)
    block.check_body(tx_ids)
    if header.height == 1:
        if block.last_commit is not None:
            raise InvalidBlock("block 1 must not carry a previous commit QC")
    else:
        if block.last_commit is None:
            raise InvalidBlock(f"block {header.height} lacks the previous block's commit QC")
        if verified_head_qc is None or block.last_commit.to_bytes() != verified_head_qc:
            verify_commit_qc(
                genesis, block.last_commit, height=head.height, block_hash=head.block_hash
            )


def check_link(
    genesis: Genesis, header: BlockHeader, height: int, block_hash: bytes, time_ms: int
) -> None:
    """Check that ``header`` is for this chain, follows the block ``block_hash`` at ``height``
    (time ``time_ms``; height 0 is genesis itself, whose hash block 1 names), does not go back
    in time and names a genesis node as proposer. Shared by full nodes and edges (which hold
    headers only: :mod:`ledger.header_chain`). Raises :class:`InvalidBlock`."""
    if header.chain_id != genesis.chain_id:
        raise InvalidBlock(f"block is for chain {header.chain_id!r}, not {genesis.chain_id!r}")
    if header.height != height + 1:
        raise InvalidBlock(f"block height {header.height}, expected {height + 1}")
    if header.prev_hash != block_hash:
        raise InvalidBlock(f"block {header.height} does not link to the current head")
    if header.time_ms < time_ms:
        raise InvalidBlock(f"block {header.height} time goes backwards")
    if genesis.node(header.proposer) is None:
        raise InvalidBlock(f"block {header.height} proposer {header.proposer} is not a node")
