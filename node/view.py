"""What the HTTP API may ask of a running node: the :class:`NodeView` protocol.

The routes in :mod:`node.http` depend on this protocol only, never on the service that runs the
node, so the API can be served over any object that answers it (the running node, an
in-process test node) and the node's insides can change without touching a route. Everything a
route returns is rendered from these values; refusals come back as
:class:`node.http.errors.ApiError` subclasses, which carry the status and code the client sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ledger.genesis import Genesis
    from ledger.ledger import Ledger
    from node.buildinfo import BuildInfo
    from node.consensus_stats import ConsensusSnapshot
    from node.storage import FetchOutcome
    from node.wire import FragmentGet


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """The answer of ``GET /status`` (docs/http-api.md)."""

    chain_id: str
    genesis_hash: str
    node_index: int
    peer_id: str
    height: int
    head_hash: str
    head_time_ms: int
    peers_connected: int
    peers: tuple[str, ...]
    round: int
    pending: int
    syncing: bool


@dataclass(frozen=True, slots=True)
class PeerState:
    """Another genesis node as this node sees it."""

    index: int
    peer_id: str
    connected: bool


@dataclass(frozen=True, slots=True)
class NetInfo:
    """The answer of ``GET /net_info``: where this node listens and its genesis peers."""

    listen: tuple[str, ...]
    peers: tuple[PeerState, ...]


@dataclass(frozen=True, slots=True)
class NodeGauges:
    """The node's state as Prometheus gauges, read at scrape time."""

    height: int
    round: int
    pending_items: int
    peers_connected: int
    audit_length: int
    inbox_items: int
    evidence: int
    #: Client submissions refused as busy (the backlog at its bound), since start.
    refused_busy: int
    #: Consensus frames waiting for each peer (by node index).
    link_queued: Mapping[int, int]
    #: Consensus frames dropped for each peer whose queue was full, since start.
    link_dropped: Mapping[int, int]
    #: Commits, decisions and their latencies since start.
    consensus: ConsensusSnapshot
    build: BuildInfo


class NodeView(Protocol):
    """What the HTTP routes need of a node: status, submission, waiting for commits,
    decisions, ledger queries and the bulk-data storage."""

    @property
    def genesis(self) -> Genesis:
        """The chain this node serves."""
        ...

    @property
    def ledger(self) -> Ledger:
        """The committed chain, for read-only queries (``ledger.queries``, head, verify)."""
        ...

    def status(self) -> NodeStatus: ...

    def net_info(self) -> NetInfo: ...

    def gauges(self) -> NodeGauges: ...

    async def submit_transaction(self, raw: bytes) -> str:
        """Check a signed, encoded transaction and hand it to consensus; returns its id (hex).

        Raises an ``ApiError``: 400 malformed or bad content, 403/404/409 refused by the rules
        (see docs/http-api.md), 503 busy or ``syncing`` (retry).
        """
        ...

    async def wait_commit(self, deadline: float) -> bool:
        """Wait for the next committed block until ``deadline`` (``trio.current_time()``
        scale); False if none came by then."""
        ...

    def submission_pending(self, tx_id: bytes) -> bool:
        """Whether transaction ``tx_id`` (an access request or any other) waits here to be
        decided: in consensus, or accepted by this node and kept until decided."""
        ...

    def dropped_reason(self, tx_id: bytes) -> str | None:
        """Why this node dropped the submission ``tx_id`` it had accepted, without it being
        committed (committed state refuses it now, or consensus left it out); None if not."""
        ...

    def denial_reason(self, request_id: bytes) -> str | None:
        """Why this node denied request ``request_id``, if it decided it and remembers."""
        ...

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int:
        """Check an owner's ``n`` fragments against the committed record, keep this node's and
        hand each peer its own; returns how many nodes took theirs. Raises an ``ApiError``."""
        ...

    async def fetch(self, fetch: FragmentGet) -> FetchOutcome:
        """Gather ``t`` fragments for a signed, granted fetch and rebuild the record's bulk
        ciphertext. Raises an ``ApiError`` (the refusal of this node or of its peers)."""
        ...
