"""Following the chain by its headers: ask consensus nodes, keep what verifies, count the rest.

The follower asks one connected consensus node at a time (round robin, so one silent or lying
node does not stall it) for the headers after its tip, and extends its
:class:`~ledger.header_chain.HeaderChain` with each in turn. A batch that does not decode, or a
header that is not the next valid link (a forged or missing commit QC, a wrong parent), ends that
batch: nothing of it from there on is stored, the peer's refusal count goes up and the refusal is
logged. The next poll asks another node.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

from crypto.errors import DecodeError
from ledger.header_chain import HeaderBatch, HeaderChain, HeaderRequest, InvalidHeader
from node.edge.protocol import HEADERS_PROTOCOL
from node.p2p import P2PError

logger = logging.getLogger("iomtshare.node.edge.follower")

#: ``request(peer, protocol, payload) -> reply``; peers are named by their base58 peer id.
Request = Callable[[str, str, bytes], Awaitable[bytes]]

#: Headers asked for in one request.
BATCH = 128
#: How long the follower waits between polls once it has caught up.
POLL_INTERVAL_SECONDS = 0.3


class HeaderFollower:
    """Extends ``chain`` with headers from the peers ``sources()`` names."""

    def __init__(
        self,
        chain: HeaderChain,
        request: Request,
        sources: Callable[[], Sequence[str]],
        *,
        batch: int = BATCH,
        interval: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        self.chain = chain
        self._request = request
        self._sources = sources
        self._batch = batch
        self._interval = interval
        self._turn = 0
        #: Headers accepted since start.
        self.accepted = 0
        #: Refused batches (bad encoding or a header that failed verification), by peer.
        self.refused: dict[str, int] = {}

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            full = await self.poll_once()
            if not full:
                await trio.sleep(self._interval)

    async def poll_once(self) -> bool:
        """Ask the next source for headers after the tip; return whether it sent a full batch
        (so there may be more to fetch at once)."""
        sources = list(self._sources())
        if not sources:
            return False
        peer = sources[self._turn % len(sources)]
        self._turn += 1
        request = HeaderRequest(self.chain.height + 1, self._batch)
        try:
            reply = await self._request(peer, HEADERS_PROTOCOL, request.to_bytes())
        except P2PError as exc:
            logger.info("header request failed peer=%s reason=%s", peer, exc)
            return False
        return self.take(peer, reply) >= self._batch

    def take(self, peer: str, reply: bytes) -> int:
        """Extend the chain with the headers of ``reply`` from ``peer``; return how many were
        accepted. A refused batch is counted against ``peer`` and logged."""
        try:
            batch = HeaderBatch.from_bytes(reply)
        except DecodeError as exc:
            self._refuse(peer, f"undecodable batch: {exc}")
            return 0
        accepted = 0
        for certified in batch.headers:
            try:
                self.chain.extend(certified)
            except InvalidHeader as exc:
                self._refuse(peer, str(exc))
                break
            accepted += 1
        self.accepted += accepted
        return accepted

    def _refuse(self, peer: str, reason: str) -> None:
        self.refused[peer] = self.refused.get(peer, 0) + 1
        logger.warning(
            "header batch refused peer=%s reason=%s refused=%d", peer, reason, self.refused[peer]
        )
