"""The header protocol: an edge asks a consensus node for certified headers.

A request/response protocol of its own rather than the consensus sync protocol: sync travels
between validators on the consensus links (a :class:`~consensus.messages.SyncRequest` names the
requester by validator index, which an edge does not have), and its replies carry whole blocks,
megabytes an edge does not want. Here one :class:`~ledger.header_chain.HeaderRequest` gets one
:class:`~ledger.header_chain.HeaderBatch`: each header with the commit QC stored beside its block,
a few hundred bytes a height. The server does not vouch for anything: the edge checks every QC.

A request costs the server up to 256 header and QC reads, so each peer may ask at a bounded
rate (:class:`HeaderRequestGate`); a peer asking faster gets :class:`HeaderRequestsLimited`, a
``REJECTED`` answer it can tell from a failure, and may ask again a moment later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio
from libp2p.peer.id import ID
from prometheus_client import CollectorRegistry, Counter

from crypto.errors import DecodeError
from ledger.header_chain import (
    MAX_HEADERS_PER_REQUEST,
    CertifiedHeader,
    HeaderBatch,
    HeaderRequest,
)
from ledger.ledger import Ledger
from node import byzantine
from node.p2p import RequestHandler, RequestRejected
from node.ratelimit import TokenBuckets

logger = logging.getLogger("iomtshare.node.edge.protocol")

HEADERS_PROTOCOL = "/iomtshare/headers/1"

#: Header requests served per peer: a burst of this many, then as many a second. An edge
#: polls one node at a time, round robin, every 0.3 s once caught up (under one request a second
#: per node); catching up it asks again as soon as a full batch lands, which this still lets run
#: at 8 x 256 headers a second from each node.
HEADER_REQUEST_BURST = 16
HEADER_REQUESTS_PER_SECOND = 8.0


class HeaderRequestsLimited(RequestRejected):
    """A peer asked for headers faster than its allowance; it may ask again shortly."""


class HeaderRequestGate:
    """Which header requests a node serves: each peer's, at a bounded rate (token buckets).
    ``kind`` names the requests in messages and the counter (the proofs and edge-submit
    protocols and edges' fragment gets reuse it).

    A refusal is logged once per burst of refusals (the first after a served request), so a
    flooding peer cannot flood the log; every refusal is counted in :attr:`refused` and, given a
    ``registry``, in the ``iomtshare_header_requests_refused_total`` counter.
    """

    def __init__(
        self,
        burst: int = HEADER_REQUEST_BURST,
        rate: float = HEADER_REQUESTS_PER_SECOND,
        registry: CollectorRegistry | None = None,
        *,
        kind: str = "header",
    ) -> None:
        self._buckets: TokenBuckets[str] = TokenBuckets(burst, rate)
        self._rate = rate
        self._kind = kind
        # Peers whose last request was refused: their next refusal is not logged again.
        self._limited: set[str] = set()
        #: Requests refused for their rate, by peer (base58 id).
        self.refused: dict[str, int] = {}
        self._counter = (
            None
            if registry is None
            else Counter(
                f"iomtshare_{kind}_requests_refused",
                f"{kind.capitalize()} requests (edge protocol) refused because the peer asked "
                "too often.",
                registry=registry,
            )
        )

    def check(self, peer: str, now: float) -> None:
        """Spend one of ``peer``'s requests at ``now``; raises :class:`HeaderRequestsLimited`
        when it has none left."""
        if self._buckets.take(peer, now):
            self._limited.discard(peer)
            return
        refused = self.refused[peer] = self.refused.get(peer, 0) + 1
        if self._counter is not None:
            self._counter.inc()
        if peer not in self._limited:
            self._limited.add(peer)
            logger.warning(
                "%s requests refused peer=%s reason=rate limit refused=%d",
                self._kind, peer, refused,
            )
        raise HeaderRequestsLimited(
            f"too many {self._kind} requests: at most {self._rate:g} a second, retry later"
        )


def header_server(
    ledger: Ledger,
    gate: HeaderRequestGate | None = None,
    clock: Callable[[], float] = trio.current_time,
    *,
    forge: bool = False,
) -> RequestHandler:
    """The handler a consensus node serves :data:`HEADERS_PROTOCOL` with, over its ledger,
    admitting each peer's requests through ``gate`` (by default one with the default rate and
    no metrics) at ``clock()``.

    Test only: with ``forge`` (the node passes whether it runs in the Byzantine test mode
    ``forge-headers``, :mod:`node.byzantine`) it answers forged headers instead."""
    admit = HeaderRequestGate() if gate is None else gate
    lie = forge

    async def serve(peer: ID, payload: bytes) -> bytes:
        admit.check(str(peer), clock())
        try:
            request = HeaderRequest.from_bytes(payload)
        except DecodeError as exc:
            raise RequestRejected(f"bad header request: {exc}") from exc
        batch = certified_headers(ledger, request)
        return (byzantine.forged_batch(batch) if lie else batch).to_bytes()

    return serve


def certified_headers(ledger: Ledger, request: HeaderRequest) -> HeaderBatch:
    """The committed headers from ``request.start`` on (at most
    :data:`~ledger.header_chain.MAX_HEADERS_PER_REQUEST`), each with its commit QC."""
    count = min(request.count, MAX_HEADERS_PER_REQUEST)
    start = max(request.start, 1)
    out: list[CertifiedHeader] = []
    for header in ledger.block_headers(start, start + count, limit=count):
        qc = ledger.commit_qc(header.height)
        if qc is None:
            break  # written but not committed as far as this store knows
        out.append(CertifiedHeader(header, qc))
    return HeaderBatch(tuple(out))
