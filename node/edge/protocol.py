"""The header protocol: an edge asks a consensus node for certified headers.

A request/response protocol of its own rather than the consensus sync protocol: sync travels
between validators on the consensus links (a :class:`~consensus.messages.SyncRequest` names the
requester by validator index, which an edge does not have), and its replies carry whole blocks,
megabytes an edge does not want. Here one :class:`~ledger.header_chain.HeaderRequest` gets one
:class:`~ledger.header_chain.HeaderBatch`: each header with the commit QC stored beside its block,
a few hundred bytes a height. The server does not vouch for anything: the edge checks every QC.
"""

from __future__ import annotations

from libp2p.peer.id import ID

from crypto.errors import DecodeError
from ledger.header_chain import (
    MAX_HEADERS_PER_REQUEST,
    CertifiedHeader,
    HeaderBatch,
    HeaderRequest,
)
from ledger.ledger import Ledger
from node.p2p import RequestHandler, RequestRejected

HEADERS_PROTOCOL = "/iomtshare/headers/1"


def header_server(ledger: Ledger) -> RequestHandler:
    """The handler a consensus node serves :data:`HEADERS_PROTOCOL` with, over its ledger."""

    async def serve(peer: ID, payload: bytes) -> bytes:
        try:
            request = HeaderRequest.from_bytes(payload)
        except DecodeError as exc:
            raise RequestRejected(f"bad header request: {exc}") from exc
        return certified_headers(ledger, request).to_bytes()

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
