"""The edge submit protocol: a genesis edge hands a device record to a consensus node.

Consensus nodes refuse edges their storage protocols and non-validator gossip, and an edge has
no HTTP client of the nodes' API. So nodes serve ``/iomtshare/edge-submit/1``
(:func:`submit_server`), for genesis edges only. One :class:`EdgeSubmit` is either

* ``TRANSACTION``: a signed PutRecord version 3 naming a device (``device_id`` set). The node
  runs the admission checks of ``POST /tx`` on it and submits it; the reply carries its id.
* ``FRAGMENTS``: the ``n`` fragments of a committed record. The node checks them against the
  record and hands fragment ``j`` to node ``j``, as for an owner's ``POST
  /records/{id}/fragments``; the reply says how many nodes took theirs.

Fragments are taken only for a committed PutRecord naming a device whose registered edge is
the asking peer; a record this node has already handed out for an edge is answered ``ok``
again without hashing or sending anything.

What a request may cost is bounded before it is decoded: each edge may ask
:data:`SUBMIT_BURST` times at once, then :data:`SUBMITS_PER_SECOND` (the headers protocol's
token buckets); a transaction is at most admission's ``MAX_TX_BYTES`` and a request carries at
most ``n`` fragments, both read from the request's length fields first.

Every answer is an :class:`EdgeSubmitReply`: ``code`` is ``ok`` or why the node refused
(``not_edge``, ``rate_limited``, ``too_large``, ``malformed``, ``not_device_record``,
``not_your_device``, or the code ``POST /tx`` or the fragment upload would answer, such as
``invalid``, ``duplicate``, ``bad_fragment``, ``not_found``, ``unavailable``). A refusal leaves
the node's state as it was; any other failure in the handler is answered ``INTERNAL`` by the
request/response layer, and the node runs on. The edge side is :class:`EdgeSubmitter`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import trio
from libp2p.peer.id import ID
from prometheus_client import CollectorRegistry

from crypto import tags
from crypto.codec import Reader
from crypto.errors import DecodeError
from ledger import devices
from ledger.encoding import BLOB, HASH, TEXT, U8, U32, Encoded, sequence
from ledger.genesis import Genesis
from ledger.queries import LedgerQueries
from ledger.transactions import PutRecord, decode_transaction
from node.admission import MAX_TX_BYTES
from node.edge.follower import Request
from node.edge.protocol import HeaderRequestGate, HeaderRequestsLimited
from node.http.errors import ApiError
from node.p2p import P2PError, RequestHandler

logger = logging.getLogger("iomtshare.node.edge.submit")

EDGE_SUBMIT_PROTOCOL = "/iomtshare/edge-submit/1"
TAG_EDGE_SUBMIT = tags.EDGE_SUBMIT
TAG_EDGE_SUBMIT_REPLY = tags.EDGE_SUBMIT_REPLY
#: The largest request a node reads: the fragments of a 4 MiB upload at n/t up to 3, and a tx.
MAX_SUBMIT_BYTES = 16 * 1024 * 1024
#: How long the edge waits for one node's answer.
SUBMIT_TIMEOUT_SECONDS = 30.0
#: Submissions served per edge: a burst of this many, then as many a second. An edge sends
#: one transaction and one fragment hand-over per device reading, to one node at a time.
SUBMIT_BURST = 8
SUBMITS_PER_SECOND = 4.0
#: How many records handed out for edges a node remembers (answered ``ok`` again at no cost).
REMEMBERED_HAND_OUTS = 4096
#: Codes after which the edge tries the next node (this one may be behind or busy).
_TRY_ANOTHER = frozenset(
    {"unavailable", "syncing", "not_found", "starting", "rate_limited", "busy"}
)


class SubmitKind(IntEnum):
    TRANSACTION = 1
    FRAGMENTS = 2


@dataclass(frozen=True, slots=True)
class EdgeSubmit(Encoded):
    """A transaction (``tx``) or a record's fragments (``record_id``, ``fragments``)."""

    kind: int
    record_id: bytes
    tx: bytes
    fragments: tuple[bytes, ...]

    TAG = TAG_EDGE_SUBMIT
    FIELDS = (("kind", U8), ("record_id", HASH), ("tx", BLOB), ("fragments", sequence(BLOB)))


@dataclass(frozen=True, slots=True)
class EdgeSubmitReply(Encoded):
    """``code`` ``ok`` with the tx id (a transaction) or the nodes that took their fragment,
    or the refusal's code and message."""

    code: str
    message: str
    tx_id: bytes
    stored: int

    TAG = TAG_EDGE_SUBMIT_REPLY
    FIELDS = (("code", TEXT), ("message", TEXT), ("tx_id", BLOB), ("stored", U32))


class SubmitTarget(Protocol):
    """What the handler drives: the node's own ``POST /tx`` and fragment upload paths
    (:class:`node.live_view.LiveView`)."""

    @property
    def ledger(self) -> LedgerQueries: ...

    async def submit_transaction(self, raw: bytes) -> str: ...

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int: ...


def _refusal(code: str, message: str) -> bytes:
    return EdgeSubmitReply(code, message, b"", 0).to_bytes()


def submit_gate(registry: CollectorRegistry | None = None) -> HeaderRequestGate:
    """The per-edge rate limit of submissions (counted in
    ``iomtshare_submit_requests_refused_total`` given a ``registry``)."""
    return HeaderRequestGate(SUBMIT_BURST, SUBMITS_PER_SECOND, registry, kind="submit")


def _oversized(payload: bytes, max_fragments: int) -> bytes | None:
    """The refusal of a request whose length fields declare a transaction over
    ``MAX_TX_BYTES`` or more than ``max_fragments`` fragments, read in :class:`EdgeSubmit`'s
    field order before anything is decoded; ``None`` otherwise (decoding finds other faults)."""
    reader = Reader(payload, "edge submission")
    try:
        reader.expect_header(EdgeSubmit.TAG, EdgeSubmit.VERSION)
        reader.u8()  # kind
        reader.fixed(32)  # record_id
        tx_size = reader.u32()
        if tx_size > MAX_TX_BYTES:
            return _refusal("too_large", f"a {tx_size}-byte transaction, at most {MAX_TX_BYTES}")
        reader.fixed(tx_size)
        count = reader.u32()
    except DecodeError:
        return None
    if count > max_fragments:
        return _refusal("bad_fragment", f"{count} fragments, at most {max_fragments}")
    return None


def submit_server(
    genesis: Genesis,
    target: SubmitTarget,
    gate: HeaderRequestGate | None = None,
    clock: Callable[[], float] = trio.current_time,
) -> RequestHandler:
    """The handler a consensus node serves :data:`EDGE_SUBMIT_PROTOCOL` with, admitting each
    edge's requests through ``gate`` (:func:`submit_gate` by default) at ``clock()``."""
    edges = frozenset(edge.peer_id for edge in genesis.edges)
    admit = submit_gate() if gate is None else gate
    handed_out: OrderedDict[bytes, int] = OrderedDict()  # record id -> nodes that took theirs

    async def serve(peer: ID, payload: bytes) -> bytes:
        if str(peer) not in edges:
            logger.warning("edge submission refused peer=%s reason=not-an-edge", peer)
            return _refusal("not_edge", "only a genesis edge may submit here")
        try:
            admit.check(str(peer), clock())
        except HeaderRequestsLimited as exc:
            return _refusal("rate_limited", str(exc))
        if len(payload) > MAX_SUBMIT_BYTES:
            return _refusal("too_large", f"{len(payload)} bytes, at most {MAX_SUBMIT_BYTES}")
        refused = _oversized(payload, genesis.size)
        if refused is not None:
            return refused
        try:
            request = EdgeSubmit.from_bytes(payload)
            kind = SubmitKind(request.kind)
        except (DecodeError, ValueError) as exc:
            return _refusal("malformed", f"not an edge submission: {exc}")
        try:
            if kind is SubmitKind.TRANSACTION:
                return await _transaction(target, request.tx)
            return await _fragments(request, str(peer))
        except ApiError as exc:
            return _refusal(exc.code, exc.message)

    async def _fragments(request: EdgeSubmit, peer: str) -> bytes:
        record_id = request.record_id
        refused = _not_for(target.ledger, record_id, peer)
        if refused is not None:
            return refused
        if record_id in handed_out:
            handed_out.move_to_end(record_id)
            message = "already handed out from this node; not sent again"
            return EdgeSubmitReply("ok", message, b"", handed_out[record_id]).to_bytes()
        # The fragment count is checked against the record's commitment there, once.
        stored = await target.store_fragments(record_id, request.fragments)
        handed_out[record_id] = stored
        if len(handed_out) > REMEMBERED_HAND_OUTS:
            handed_out.popitem(last=False)
        return EdgeSubmitReply("ok", "", b"", stored).to_bytes()

    return serve


def _not_for(ledger: LedgerQueries, record_id: bytes, peer: str) -> bytes | None:
    """The refusal when ``record_id`` is committed but is not a record of a device of edge
    ``peer``; ``None`` when it is, or is not committed here (the upload path answers that)."""
    record = ledger.record(record_id)
    if record is None:
        return None
    stored = ledger.transaction(record.tx_id)
    tx = None if stored is None else stored.transaction
    if not isinstance(tx, PutRecord) or not tx.device_id:
        return _refusal("not_device_record", "an edge uploads fragments of device records only")
    entry = devices.device(ledger.store, tx.device_id)
    if entry is None or entry.edge != peer:
        return _refusal("not_your_device", "the record's device is registered to another edge")
    return None


async def _transaction(target: SubmitTarget, raw: bytes) -> bytes:
    try:
        tx = decode_transaction(raw)
    except DecodeError as exc:
        return _refusal("malformed", f"not a transaction: {exc}")
    if not isinstance(tx, PutRecord) or not tx.device_id:
        return _refusal("not_device_record", "an edge submits PutRecords naming a device only")
    tx_id = await target.submit_transaction(raw)
    return EdgeSubmitReply("ok", "", bytes.fromhex(tx_id), 0).to_bytes()


class SubmitRefused(Exception):
    """The nodes refused a submission (``code`` as in :class:`EdgeSubmitReply`), or none
    answered (``unavailable``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class EdgeSubmitter:
    """The edge side: asks the connected consensus nodes (``sources()``) in turn."""

    def __init__(self, request: Request, sources: Callable[[], Sequence[str]]) -> None:
        self._request = request
        self._sources = sources
        self._turn = 0

    async def submit_tx(self, raw: bytes) -> bytes:
        """Submit a signed device PutRecord; returns its id (``duplicate``: already pending
        there counts as submitted). Raises :class:`SubmitRefused`."""
        reply = await self._ask(EdgeSubmit(SubmitKind.TRANSACTION, bytes(32), raw, ()))
        return reply.tx_id

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int:
        """Hand a committed record's fragments over; returns how many nodes took theirs.
        Raises :class:`SubmitRefused`."""
        request = EdgeSubmit(SubmitKind.FRAGMENTS, record_id, b"", tuple(fragments))
        return (await self._ask(request)).stored

    async def _ask(self, request: EdgeSubmit) -> EdgeSubmitReply:
        sources = list(self._sources())
        if not sources:
            raise SubmitRefused("unavailable", "no consensus node is connected")
        start = self._turn % len(sources)
        self._turn += 1
        payload = request.to_bytes()
        last = SubmitRefused("unavailable", "no consensus node answered")
        # A node whose answer was lost may have taken the submission: once one was, a later
        # node's "try another" answer (busy, syncing, ...) must not read as "nobody has it".
        lost: SubmitRefused | None = None
        for peer in sources[start:] + sources[:start]:
            try:
                raw = await self._request(peer, EDGE_SUBMIT_PROTOCOL, payload)
                reply = EdgeSubmitReply.from_bytes(raw)
            except (P2PError, DecodeError) as exc:
                logger.info("edge submission failed peer=%s reason=%s", peer, exc)
                last = lost = SubmitRefused("unavailable", f"{peer}: {exc}")
                continue
            if reply.code == "ok":
                return reply
            if reply.code == "rate_limited":  # this node, for now: the next may take it
                last = SubmitRefused("unavailable", f"{peer}: {reply.message}")
                continue
            if reply.code == "duplicate" and request.kind == SubmitKind.TRANSACTION:
                tx = decode_transaction(request.tx)
                return EdgeSubmitReply("ok", reply.message, tx.tx_id(), 0)
            last = SubmitRefused(reply.code, reply.message)
            if reply.code not in _TRY_ANOTHER:
                break
        if lost is not None and last.code in _TRY_ANOTHER:
            raise lost
        raise last
