"""The application interface consensus drives: items, authorization, shares, blocks, ledger.

Consensus never imports the ledger or the node. The node passes in an object satisfying
:class:`Application`, which wraps the ledger and the threshold re-encryption keys. Client items
are decoded and named by the application once (:class:`~consensus.item.Item`), and handed back to
it as such. Block bytes stay opaque here: consensus hands the application a
:class:`~consensus.messages.BlockContent` to build a block from, and asks it to open a received
block back into its content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from consensus.item import Item, ItemDecoder
from consensus.messages import BlockContent, CommittedBlock
from consensus.safety import SafetyState

#: ``commit_vote_payload(chain_id, height, round, block_hash)``: the bytes a commit vote signs.
CommitPayload = Callable[[str, int, int, bytes], bytes]

#: ``access_vote_payload(chain_id, request_id, approve, share)``: the bytes an approval or
#: denial signs for the ledger (``share`` is empty for a denial).
AccessPayload = Callable[[str, bytes, bool, bytes], bytes]


@dataclass(frozen=True, slots=True)
class Authorization:
    """This node's decision on a request, with its re-encryption share when it approves.

    ``threshold`` is the number of verified shares the request's grant needs (t).
    """

    approve: bool
    threshold: int
    share: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class BuiltBlock:
    """Block bytes made by the application, the hash that votes refer to, and the content the
    block holds (the content asked for, less the items the application had to leave out)."""

    block: bytes
    block_hash: bytes
    content: BlockContent


@dataclass(frozen=True, slots=True)
class OpenedBlock:
    """A received block the application accepted, read back into its consensus content."""

    content: BlockContent
    block_hash: bytes


class Application(ItemDecoder, Protocol):
    """What a consensus node needs from the rest of its node (first of all
    :meth:`~consensus.item.ItemDecoder.decode_item`).

    Every method is deterministic given the committed ledger, so that honest nodes at the same
    height reach the same decisions.
    """

    def authorize(self, request: Item) -> Authorization:
        """Decide an access request; raise ``InvalidMessage`` when it gets no vote at all."""
        ...

    def request_threshold(self, request: Item) -> int:
        """The number of verified shares the request needs; raise ``InvalidMessage`` if bad."""
        ...

    def verify_share(self, request: Item, signer: int, share: bytes) -> bool:
        """Whether ``share`` is node ``signer``'s correct re-encryption share for ``request``."""
        ...

    def check_transaction(self, tx: Item) -> bool:
        """Whether an ordinary transaction is admissible."""
        ...

    def build_block(self, content: BlockContent) -> BuiltBlock:
        """Combine the shares of the approved requests and make the block bytes."""
        ...

    def open_block(self, height: int, block: bytes) -> OpenedBlock:
        """Check a received block against the ledger (previous hash, combined results, access
        limits) and return its content; raise ``InvalidBlock`` when it is wrong."""
        ...

    def commit(self, block: CommittedBlock) -> None:
        """Write a decided block and its commit QC to the ledger."""
        ...

    def committed_height(self) -> int:
        """Height of the last committed block (0 before the first)."""
        ...

    def committed_block(self, height: int) -> CommittedBlock | None:
        """A committed block with its QC, for catching up a lagging node."""
        ...

    def is_committed(self, item_id: bytes) -> bool:
        """Whether the item with this id is already in a committed block."""
        ...

    def save_safety_state(self, state: SafetyState) -> None:
        """Durably store ``state`` (fsync) before returning: the node signs right after."""
        ...

    def load_safety_state(self) -> SafetyState | None:
        """The last state saved, or None on a fresh node."""
        ...
