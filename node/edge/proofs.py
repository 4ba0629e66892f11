"""The proof protocol: an edge fetches single committed items with inclusion proofs.

Consensus nodes serve ``/iomtshare/proofs/1`` (:func:`proof_server`): a
:class:`~ledger.inclusion.ProofRequest` names a transaction id or the id of an access request,
and the answer is a :class:`~ledger.inclusion.TxInclusion`, a
:class:`~ledger.inclusion.ResultInclusion` (the decision on the request) or a typed
:class:`~ledger.inclusion.ProofNotFound`. A request that is too long, does not decode or asks for
an unknown kind is refused (``REJECTED`` with the reason); the node's state is not touched. Only
peers on the connection allowlist (genesis nodes and edges) can open a stream at all, and each
peer's requests are rate-limited (:func:`proof_gate`, the headers protocol's token buckets).

The edge side, :class:`ProofFetcher`, asks one connected consensus node at a time, round robin,
and moves on to the next when a node fails, does not have the item, or sends a proof that does
not verify against the edge's own certified header of that height (such a peer is counted and
logged). Its ``fetch_*`` methods return only verified items, or raise a :class:`ProofError`
whose ``code`` says why. For ids a client named (``quick``), a not-found is answered after two
nodes said so and remembered for a moment (:mod:`node.edge.proof_cache`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import trio
from libp2p.peer.id import ID
from prometheus_client import CollectorRegistry

from crypto.errors import DecodeError
from ledger.block import SharingResult
from ledger.header_chain import CertifiedHeader, HeaderChain
from ledger.inclusion import (
    NO_ITEM,
    InvalidInclusion,
    ProofAnswer,
    ProofKind,
    ProofNotFound,
    ProofRequest,
    ResultInclusion,
    TxInclusion,
    decode_answer,
    prove,
)
from ledger.queries import LedgerQueries
from ledger.transactions import RegisterDevice, RekeyDevice, RotateDomainKey, Transaction
from node.edge.follower import Request
from node.edge.proof_cache import NotFoundCache
from node.edge.proof_errors import (
    HeaderBehind,
    ItemNotFound,
    ProofError,
    ProofRefused,
    failure_of,
    what_of,
)
from node.edge.protocol import HeaderRequestGate
from node.p2p import P2PError, RequestHandler, RequestRejected

# The errors live in node.edge.proof_errors; callers import them from here too.
__all__ = [
    "MAX_PROOF_BYTES", "MAX_REQUEST_BYTES", "PROOFS_PROTOCOL", "HeaderBehind", "ItemNotFound",
    "ProofError", "ProofFetcher", "ProofRefused", "Verified", "VerifiedDecision", "VerifiedTx",
    "proof_gate", "proof_server",
]

logger = logging.getLogger("iomtshare.node.edge.proofs")

PROOFS_PROTOCOL = "/iomtshare/proofs/1"
#: A proof request is 35 bytes; anything longer is refused before decoding.
MAX_REQUEST_BYTES = 64
#: The largest proof a node sends and an edge accepts (a transaction is at most 128 KiB).
MAX_PROOF_BYTES = 1024 * 1024
#: Proof requests served per peer: a burst, then as many a second. An edge asks two per device
#: upload and one every 0.5 s per upload waiting for its commit, spread over the nodes.
PROOF_REQUEST_BURST = 64
PROOF_REQUESTS_PER_SECOND = 32.0
#: A ``quick`` fetch answers not-found once this many nodes said they lack the item.
QUICK_NOT_FOUND_NODES = 2
#: How long the edge waits for its own header of a proof's height when it is behind.
HEADER_WAIT_SECONDS = 5.0
_HEADER_POLL_SECONDS = 0.05

T = TypeVar("T")


def proof_gate(registry: CollectorRegistry | None = None) -> HeaderRequestGate:
    """The per-peer rate limit of proof requests (counted in
    ``iomtshare_proof_requests_refused_total`` given a ``registry``)."""
    return HeaderRequestGate(
        PROOF_REQUEST_BURST, PROOF_REQUESTS_PER_SECOND, registry, kind="proof"
    )


def proof_server(
    ledger: LedgerQueries,
    gate: HeaderRequestGate | None = None,
    clock: Callable[[], float] = trio.current_time,
) -> RequestHandler:
    """The handler a consensus node serves :data:`PROOFS_PROTOCOL` with, over its ledger,
    admitting each peer's requests through ``gate`` (:func:`proof_gate` by default) at
    ``clock()``."""
    admit = proof_gate() if gate is None else gate

    async def serve(peer: ID, payload: bytes) -> bytes:
        admit.check(str(peer), clock())
        if len(payload) > MAX_REQUEST_BYTES:
            raise RequestRejected(
                f"bad proof request: {len(payload)} bytes, at most {MAX_REQUEST_BYTES}"
            )
        try:
            request = ProofRequest.from_bytes(payload)
            ProofKind(request.kind)
        except (DecodeError, ValueError) as exc:  # ValueError: a kind that is no ProofKind
            raise RequestRejected(f"bad proof request: {exc}") from exc
        body = prove(ledger, request).to_bytes()
        if len(body) > MAX_PROOF_BYTES:
            raise RequestRejected(f"the proof is {len(body)} bytes, over {MAX_PROOF_BYTES}")
        return body

    return serve


@dataclass(frozen=True, slots=True)
class Verified:
    """Where a verified item was committed: its block's height and hash, its index there."""

    height: int
    block_hash: bytes
    index: int


@dataclass(frozen=True, slots=True)
class VerifiedTx:
    transaction: Transaction
    tx_id: bytes
    verified: Verified


@dataclass(frozen=True, slots=True)
class VerifiedDecision:
    result: SharingResult
    verified: Verified


class _Refused(Exception):
    """One peer's answer that did not verify (internal to :class:`ProofFetcher`)."""


class ProofFetcher:
    """Fetches items with proofs from the peers ``sources()`` names, checked against ``chain``.

    ``request(peer, protocol, payload)`` does one exchange (the edge's p2p host)."""

    def __init__(
        self,
        chain: HeaderChain,
        request: Request,
        sources: Callable[[], Sequence[str]],
        *,
        header_wait: float = HEADER_WAIT_SECONDS,
        not_found: NotFoundCache | None = None,
    ) -> None:
        self.chain = chain
        #: Recent not-found answers, consulted by ``quick`` fetches.
        self.not_found = NotFoundCache() if not_found is None else not_found
        self._request = request
        self._sources = sources
        self._header_wait = header_wait
        self._turn = 0
        #: Answers refused (undecodable or failed proofs), by peer.
        self.refused: dict[str, int] = {}

    async def fetch_tx(self, tx_id: bytes, *, quick: bool = False) -> VerifiedTx:
        """The committed transaction ``tx_id``, verified; raises :class:`ProofError`. With
        ``quick`` (an id from a client), :class:`ItemNotFound` comes after two nodes lack it,
        or from a not-found of the last seconds; without, every node is asked."""

        def accept(answer: ProofAnswer, certified: CertifiedHeader) -> VerifiedTx:
            if not isinstance(answer, TxInclusion):
                raise _Refused(f"a {type(answer).__name__} answers a transaction request")
            transaction = answer.verify(certified)
            if transaction.tx_id() != tx_id:
                raise _Refused("the proof is for another transaction")
            return VerifiedTx(transaction, tx_id, _where(certified, answer.index))

        return await self._fetch(ProofKind.TRANSACTION, tx_id, accept, quick)

    async def fetch_decision(self, request_id: bytes, *, quick: bool = False) -> VerifiedDecision:
        """The committed sharing result on access request ``request_id``, verified; raises
        :class:`ProofError` (``quick`` as for :meth:`fetch_tx`)."""

        def accept(answer: ProofAnswer, certified: CertifiedHeader) -> VerifiedDecision:
            if not isinstance(answer, ResultInclusion):
                raise _Refused(f"a {type(answer).__name__} answers a decision request")
            result = answer.verify(certified)
            if result.request_id != request_id:
                raise _Refused("the proof is for the decision on another request")
            return VerifiedDecision(result, _where(certified, answer.index))

        return await self._fetch(ProofKind.DECISION, request_id, accept, quick)

    async def fetch_device(self, device_id: bytes, *, latest_rekey: bool = False) -> VerifiedTx:
        """The RegisterDevice of ``device_id``, or with ``latest_rekey`` the transaction
        carrying its ReKey of the latest epoch (its RegisterDevice or a RekeyDevice), verified;
        raises :class:`ProofError` (:class:`ItemNotFound` for a device no node knows)."""
        kind = ProofKind.DEVICE_REKEY if latest_rekey else ProofKind.DEVICE_REGISTRATION
        wanted = (RegisterDevice, RekeyDevice) if latest_rekey else (RegisterDevice,)

        def accept(answer: ProofAnswer, certified: CertifiedHeader) -> VerifiedTx:
            if not isinstance(answer, TxInclusion):
                raise _Refused(f"a {type(answer).__name__} answers a device request")
            transaction = answer.verify(certified)
            if not isinstance(transaction, wanted) or transaction.device_id != device_id:
                raise _Refused("the proof is for another transaction than the device's")
            return VerifiedTx(transaction, transaction.tx_id(), _where(certified, answer.index))

        return await self._fetch(kind, device_id, accept)

    async def fetch_rotation(self) -> VerifiedTx:
        """The RotateDomainKey a node says dealt the current domain epoch, proven committed;
        its signature and keys are the caller's to check (:mod:`ledger.domain_rotation`).
        Raises :class:`ItemNotFound` while the genesis epoch is current, else
        :class:`ProofError`."""

        def accept(answer: ProofAnswer, certified: CertifiedHeader) -> VerifiedTx:
            if not isinstance(answer, TxInclusion):
                raise _Refused(f"a {type(answer).__name__} answers a rotation request")
            transaction = answer.verify(certified)
            if not isinstance(transaction, RotateDomainKey):
                raise _Refused("the proof is for another transaction than a rotation")
            return VerifiedTx(transaction, transaction.tx_id(), _where(certified, answer.index))

        return await self._fetch(ProofKind.DOMAIN_ROTATION, NO_ITEM, accept)

    async def _fetch(
        self,
        kind: ProofKind,
        item_id: bytes,
        accept: Callable[[ProofAnswer, CertifiedHeader], T],
        quick: bool = False,
    ) -> T:
        if quick and self.not_found.hit(kind, item_id):
            raise ItemNotFound(f"no consensus node has a committed {what_of(kind, item_id)} "
                               "(asked a moment ago)")
        peers = self._rotation()
        if not peers:
            raise ProofError("no consensus node is connected")
        payload = ProofRequest(kind, item_id).to_bytes()
        outcomes: dict[str, str] = {}
        wait = _HeaderWait(self.chain, self._header_wait)
        for peer in peers:
            try:
                reply = await self._request(peer, PROOFS_PROTOCOL, payload)
            except P2PError as exc:
                logger.info("proof request failed peer=%s reason=%s", peer, exc)
                outcomes[peer] = "failed"
                continue
            try:
                answer = _decode(reply)
                if isinstance(answer, ProofNotFound):
                    if (answer.kind, answer.item_id) != (kind, item_id):
                        raise _Refused("a not-found answer for another item")
                    outcomes[peer] = "not_found"
                    if quick and _count(outcomes, "not_found") >= QUICK_NOT_FOUND_NODES:
                        break
                    continue
                if answer.height < 1:
                    raise _Refused("a proof for height 0")
                certified = await wait.header(answer.height)
                if certified is None:
                    outcomes[peer] = "behind"
                    continue
                found = accept(answer, certified)
                self.not_found.drop(kind, item_id)
                return found
            except (_Refused, InvalidInclusion) as exc:
                self._refuse(peer, str(exc))
                outcomes[peer] = "refused"
        failure = failure_of(kind, item_id, outcomes, self.chain.height)
        if isinstance(failure, ItemNotFound):
            self.not_found.put(kind, item_id)
        raise failure

    def _rotation(self) -> list[str]:
        sources = list(self._sources())
        if not sources:
            return []
        start = self._turn % len(sources)
        self._turn += 1
        return sources[start:] + sources[:start]

    def _refuse(self, peer: str, reason: str) -> None:
        self.refused[peer] = self.refused.get(peer, 0) + 1
        logger.warning(
            "proof refused peer=%s reason=%s refused=%d", peer, reason, self.refused[peer]
        )


class _HeaderWait:
    """The edge's certified header of a height, waited for (once per fetch, bounded) when the
    edge is a little behind the node that answered."""

    def __init__(self, chain: HeaderChain, seconds: float) -> None:
        self._chain = chain
        self._seconds = seconds
        self._deadline: float | None = None

    async def header(self, height: int) -> CertifiedHeader | None:
        if self._chain.height < height:
            if self._deadline is None:
                self._deadline = trio.current_time() + self._seconds
            while self._chain.height < height and trio.current_time() < self._deadline:
                await trio.sleep(_HEADER_POLL_SECONDS)
        return self._chain.get(height)


def _decode(reply: bytes) -> ProofAnswer:
    if len(reply) > MAX_PROOF_BYTES:
        raise _Refused(f"an answer of {len(reply)} bytes, over {MAX_PROOF_BYTES}")
    try:
        return decode_answer(reply)
    except DecodeError as exc:
        raise _Refused(f"undecodable answer: {exc}") from exc


def _where(certified: CertifiedHeader, index: int) -> Verified:
    return Verified(certified.height, certified.block_hash(), index)


def _count(outcomes: dict[str, str], outcome: str) -> int:
    return sum(1 for seen in outcomes.values() if seen == outcome)
