"""The application interface consensus drives: authorization, shares, blocks and the ledger.

Consensus never imports the ledger or the node. The node passes in an object satisfying
:class:`Application`, which wraps the ledger and the threshold re-encryption keys. Block bytes
stay opaque here: consensus hands the application a :class:`~consensus.messages.BlockContent`
to build a block from, and asks it to open a received block back into its content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from consensus.messages import BlockContent, CommittedBlock
from consensus.safety import SafetyState

#: ``commit_vote_payload(chain_id, height, round, block_hash)``: the bytes a commit vote signs.
CommitPayload = Callable[[str, int, int, bytes], bytes]

#: ``access_vote_payload(chain_id, request, approve)``: the bytes an approval or denial signs for
#: the ledger (``request`` is the request's body; the node maps it to the ledger's request id).
AccessPayload = Callable[[str, bytes, bool], bytes]


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
    """Block bytes made by the application and the hash that votes refer to."""

    block: bytes
    block_hash: bytes


@dataclass(frozen=True, slots=True)
class OpenedBlock:
    """A received block the application accepted, read back into its consensus content."""

    content: BlockContent
    block_hash: bytes


class Application(Protocol):
    """What a consensus node needs from the rest of its node.

    Every method is deterministic given the committed ledger, so that honest nodes at the same
    height reach the same decisions.
    """

    def authorize(self, request: bytes) -> Authorization:
        """Decide an access request; raise ``InvalidMessage`` when it is malformed."""
        ...

    def request_threshold(self, request: bytes) -> int:
        """The number of verified shares the request needs; raise ``InvalidMessage`` if bad."""
        ...

    def verify_share(self, request: bytes, signer: int, share: bytes) -> bool:
        """Whether ``share`` is node ``signer``'s correct re-encryption share for ``request``."""
        ...

    def check_transaction(self, tx: bytes) -> bool:
        """Whether an ordinary transaction is well-formed and admissible."""
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
        """Whether a request or transaction is already in a committed block."""
        ...

    def save_safety_state(self, state: SafetyState) -> None:
        """Durably store ``state`` (fsync) before returning: the node signs right after."""
        ...

    def load_safety_state(self) -> SafetyState | None:
        """The last state saved, or None on a fresh node."""
        ...
