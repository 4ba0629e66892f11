"""The edge submit protocol: a genesis edge hands a device record to a consensus node.

Consensus nodes refuse edges their storage protocols and non-validator gossip, and an edge has
no HTTP client of the nodes' API. So nodes serve ``/iomtshare/edge-submit/1``
(:func:`submit_server`), for genesis edges only. One :class:`EdgeSubmit` is either

* ``TRANSACTION``: a signed PutRecord version 3 naming a device (``device_id`` set). The node
  runs the admission checks of ``POST /tx`` on it and submits it; the reply carries its id.
* ``FRAGMENTS``: the ``n`` fragments of a committed record. The node checks them against the
  record and hands fragment ``j`` to node ``j``, as for an owner's ``POST
  /records/{id}/fragments``; the reply says how many nodes took theirs.

Every answer is an :class:`EdgeSubmitReply`: ``code`` is ``ok`` or why the node refused
(``not_edge``, ``too_large``, ``malformed``, ``not_device_record``, ``bad_fragments``, or the
code ``POST /tx`` or the fragment upload would answer, such as ``invalid``, ``duplicate``,
``not_found``, ``unavailable``). A refusal leaves the node's state as it was; any other failure
in the handler is answered ``INTERNAL`` by the request/response layer, and the node runs on.
The edge side is :class:`EdgeSubmitter`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from libp2p.peer.id import ID

from crypto import tags
from crypto.errors import DecodeError
from ledger.encoding import BLOB, HASH, TEXT, U8, U32, Encoded, sequence
from ledger.genesis import Genesis
from ledger.transactions import PutRecord, decode_transaction
from node.edge.follower import Request
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
#: Codes after which the edge tries the next node (this one may be behind or busy).
_TRY_ANOTHER = frozenset({"unavailable", "syncing", "not_found", "starting"})


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

    async def submit_transaction(self, raw: bytes) -> str: ...

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int: ...


def _refusal(code: str, message: str) -> bytes:
    return EdgeSubmitReply(code, message, b"", 0).to_bytes()


def submit_server(genesis: Genesis, target: SubmitTarget) -> RequestHandler:
    """The handler a consensus node serves :data:`EDGE_SUBMIT_PROTOCOL` with."""
    edges = frozenset(edge.peer_id for edge in genesis.edges)

    async def serve(peer: ID, payload: bytes) -> bytes:
        if str(peer) not in edges:
            logger.warning("edge submission refused peer=%s reason=not-an-edge", peer)
            return _refusal("not_edge", "only a genesis edge may submit here")
        if len(payload) > MAX_SUBMIT_BYTES:
            return _refusal("too_large", f"{len(payload)} bytes, at most {MAX_SUBMIT_BYTES}")
        try:
            request = EdgeSubmit.from_bytes(payload)
            kind = SubmitKind(request.kind)
        except (DecodeError, ValueError) as exc:
            return _refusal("malformed", f"not an edge submission: {exc}")
        try:
            if kind is SubmitKind.TRANSACTION:
                return await _transaction(target, request.tx)
            if len(request.fragments) != genesis.size:
                return _refusal("bad_fragments", f"{genesis.size} fragments expected")
            stored = await target.store_fragments(request.record_id, request.fragments)
            return EdgeSubmitReply("ok", "", b"", stored).to_bytes()
        except ApiError as exc:
            return _refusal(exc.code, exc.message)

    return serve


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
        for peer in sources[start:] + sources[:start]:
            try:
                raw = await self._request(peer, EDGE_SUBMIT_PROTOCOL, payload)
                reply = EdgeSubmitReply.from_bytes(raw)
            except (P2PError, DecodeError) as exc:
                logger.info("edge submission failed peer=%s reason=%s", peer, exc)
                last = SubmitRefused("unavailable", f"{peer}: {exc}")
                continue
            if reply.code == "ok":
                return reply
            if reply.code == "duplicate" and request.kind == SubmitKind.TRANSACTION:
                tx = decode_transaction(request.tx)
                return EdgeSubmitReply("ok", reply.message, tx.tx_id(), 0)
            last = SubmitRefused(reply.code, reply.message)
            if reply.code not in _TRY_ANOTHER:
                break
        raise last
