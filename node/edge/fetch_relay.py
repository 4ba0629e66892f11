"""Fetching bulk data through an edge: the edge checks what it can, then relays to the nodes.

``POST /records/{record_id}/data`` on an edge takes the body a consensus node takes (the
requester's signed access token, :mod:`ledger.access_token`) plus two fields the edge needs
because it keeps no ledger:

* ``verify_key``: the requester's Ed25519 key. The edge accepts it only if its hash is the
  requester's member id (:func:`~ledger.transactions.member_id_for`; every RegisterMember is
  checked to carry exactly that id, ``ledger.content``). A member that has rotated its key
  (KeyUpdate) signs with a key that no longer hashes to its id: such a fetch is refused here
  (``key_not_member``) and goes to a node directly;
* ``record_tx_id``: the id of the record's PutRecord (a node's ``GET /records/{id}`` names it as
  ``tx_id``; a record id is random, not derived from its transaction).

Before a node is asked, the edge checks the body's size and fields, the token's signature, its
timestamp against the genesis freshness window and its nonce against the fetches this edge has
relayed (:class:`~node.fetch_nonces.FetchNonces` in the edge's LevelDB, so a restart does not
reopen replays). It fetches the decision the token names with an inclusion proof
(:meth:`~node.edge.proofs.ProofFetcher.fetch_decision`) and refuses a decision that is not a
grant of exactly this record to this requester, a token that has expired and a decision past its
fetch window; it fetches the PutRecord with its proof, checks the token's ``abe_binding``
against the key check its dual record commits as nodes do
(:func:`~node.fetch_tokens.check_binding`) and takes the storage commitment from it. A proof
shows the decision *was committed*, not that the access still stands: whether the grant was
revoked or has expired, the requester blacklisted or the nonce used at a node, only the nodes
know, and each node checks the token in full (:mod:`node.fetch_auth`) before it hands out its
fragment. The edge then asks the connected
nodes for their fragments, checks each against the commitment and rebuilds the ciphertext with
the nodes' own code (:func:`node.storage.gather`); when too few fragments come back the nodes'
most common refusal (revoked, expired, not yours ...) is the answer.

Every refusal is a :class:`~node.refusals.StorageRefused` and is counted by code in
``iomtshare_edge_fetch_refusals_total``. Anyone can sign a body with a fresh key, so both proof
fetches are ``quick`` (not found after two nodes, remembered for 2 s) and the route is limited
per client address (:mod:`node.edge.client_limit`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crypto.errors import DecodeError, VerificationError
from crypto.signing import VerifyKey
from crypto.storage import StorageCommitment
from ledger.access_token import AccessToken
from ledger.genesis import Genesis
from ledger.header_chain import CertifiedHeader
from ledger.kv import KeyValueStore
from ledger.transactions import PutRecord, member_id_for
from node.edge.follower import Request as PeerExchange
from node.edge.proofs import ItemNotFound, ProofError, VerifiedDecision, VerifiedTx
from node.fetch_nonces import FetchNonces
from node.fetch_tokens import CommittedDecision, check_binding, check_decision, check_expiry
from node.home import wall_ms
from node.http.body import parse_json
from node.http.errors import ApiError, BadRequest, PayloadTooLarge, error_body
from node.http.params import hex_field, hex_param
from node.http.routes import access_token_from_body
from node.refusals import StorageRefused
from node.storage import FetchOutcome, gather
from node.wire import FragmentGet

#: The largest relay body read: a token body is about 700 bytes of JSON.
MAX_BODY_BYTES = 8 * 1024


class ProvenItems(Protocol):
    """What the relay needs of :class:`~node.edge.proofs.ProofFetcher`."""

    async def fetch_tx(self, tx_id: bytes, *, quick: bool = False) -> VerifiedTx: ...

    async def fetch_decision(
        self, request_id: bytes, *, quick: bool = False
    ) -> VerifiedDecision: ...


class Headers(Protocol):
    """The edge's certified headers (:class:`~ledger.header_chain.HeaderChain`)."""

    def get(self, height: int) -> CertifiedHeader | None: ...


@dataclass(frozen=True, slots=True)
class EdgeFetch:
    """A relay request: the token, the key that signed it and the record's PutRecord id."""

    token: AccessToken
    verify_key: bytes
    record_tx_id: bytes


def refused(status: int, code: str, message: str) -> StorageRefused:
    return StorageRefused(status, code, message)


class FetchRelay:
    """Checks a requester's fetch at the edge, then gathers and rebuilds it from the nodes."""

    def __init__(
        self,
        genesis: Genesis,
        proofs: ProvenItems,
        headers: Headers,
        request: PeerExchange,
        sources: Callable[[], Sequence[str]],
        nonces: FetchNonces,
        clock_ms: Callable[[], int],
        registry: CollectorRegistry,
    ) -> None:
        self._genesis = genesis
        self._proofs = proofs
        self._headers = headers
        self._request = request
        self._sources = sources
        self._nonces = nonces
        self._clock_ms = clock_ms
        self._index = {node.peer_id: node.index for node in genesis.nodes}
        self._peer = {node.index: node.peer_id for node in genesis.nodes}
        self.refusals = Counter(
            "iomtshare_edge_fetch_refusals",
            "Fetches the edge refused or its nodes refused, by code",
            ["code"],
            registry=registry,
        )
        self.relayed = Counter(
            "iomtshare_edge_fetches_relayed",
            "Fetches the edge rebuilt from the consensus nodes' fragments",
            registry=registry,
        )

    async def fetch(self, fetch: EdgeFetch) -> FetchOutcome:
        """The rebuilt ciphertext; raises :class:`StorageRefused` (counted by code)."""
        try:
            outcome = await self._fetch(fetch)
        except StorageRefused as exc:
            self.refusals.labels(exc.code).inc()
            raise
        self.relayed.inc()
        return outcome

    def count(self, exc: StorageRefused) -> None:
        """Count a refusal made before :meth:`fetch` (a malformed body)."""
        self.refusals.labels(exc.code).inc()

    async def _fetch(self, fetch: EdgeFetch) -> FetchOutcome:
        token = fetch.token
        now = self._clock_ms()
        self._check_signed(fetch, now)
        decision = await self._decision(token)
        check_expiry(token, decision, None, now)  # the grant's own expiry: the nodes check it
        commitment = await self._commitment(token, fetch.record_tx_id)
        if not self._nonces.use(token.requester, token.nonce, token.timestamp_ms, now):
            raise refused(409, "replayed", "fetch nonce already used at this edge")
        peers = [self._index[p] for p in self._sources() if p in self._index]
        try:
            return await gather(commitment, {}, FragmentGet(token), peers, self._ask)
        except StorageRefused:
            # No data went out: a retry once the nodes agree may still succeed.
            self._nonces.forget(token.requester, token.nonce, token.timestamp_ms)
            raise

    def _check_signed(self, fetch: EdgeFetch, now: int) -> None:
        token = fetch.token
        if member_id_for(fetch.verify_key) != token.requester:
            raise refused(
                403,
                "key_not_member",
                "verify_key does not hash to the requester's member id (a rotated key: "
                "fetch from a consensus node)",
            )
        try:
            token.verify_signature(VerifyKey(fetch.verify_key), self._genesis.chain_id)
        except (VerificationError, DecodeError, ValueError) as exc:
            raise refused(403, "bad_signature", "fetch is not signed by the requester") from exc
        if abs(now - token.timestamp_ms) > self._genesis.freshness_window_ms:
            raise refused(409, "stale", "fetch timestamp is outside the freshness window")
        if self._nonces.seen(token.requester, token.nonce):
            raise refused(409, "replayed", "fetch nonce already used at this edge")

    async def _decision(self, token: AccessToken) -> CommittedDecision:
        try:
            proven = await self._proofs.fetch_decision(token.decision_id, quick=True)
        except ItemNotFound:
            return check_decision(token, None)
        except ProofError as exc:
            raise refused(exc.http_status, exc.code, str(exc)) from exc
        certified = self._headers.get(proven.verified.height)
        if certified is None:  # the proof was checked against this header a moment ago
            raise refused(503, "header_behind", "the decision's header is not held here")
        result = proven.result
        found = CommittedDecision(
            result.record_id, result.requester, result.granted, certified.header.time_ms
        )
        return check_decision(token, found)

    async def _commitment(self, token: AccessToken, record_tx_id: bytes) -> StorageCommitment:
        """The storage commitment of the token's record, once its abe_binding fits the record."""
        try:
            proven = await self._proofs.fetch_tx(record_tx_id, quick=True)
        except ItemNotFound as exc:
            message = "no committed transaction has that record_tx_id"
            raise refused(404, "not_found", message) from exc
        except ProofError as exc:
            raise refused(exc.http_status, exc.code, str(exc)) from exc
        put = proven.transaction
        if not isinstance(put, PutRecord) or put.record_id != token.record_id:
            raise refused(400, "record_tx_mismatch", "record_tx_id is not this record's PutRecord")
        check_binding(token, put.policy, put.abe_ciphertext)
        try:
            return StorageCommitment.from_bytes(put.storage_commitments)
        except DecodeError as exc:
            raise refused(400, "no_storage", "record has no storage commitment") from exc

    async def _ask(self, index: int, protocol: str, payload: bytes) -> bytes:
        return await self._request(self._peer[index], protocol, payload)


def fetch_routes(relay: FetchRelay) -> list[Route]:
    """The edge's ``POST /records/{record_id}/data`` (see the module docstring); the answer is
    a node's: ``{"ciphertext", "corrupt_fragments"}``, or ``{"error": {"code", "message"}}``."""

    async def fetch_data(request: Request) -> JSONResponse:
        try:
            try:
                fetch = await _edge_fetch(request)
            except ApiError as exc:
                problem = refused(exc.status_code, exc.code, exc.message)
                relay.count(problem)
                raise problem from exc
            outcome = await relay.fetch(fetch)
        except StorageRefused as exc:
            return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)
        return JSONResponse(
            {"ciphertext": outcome.data.hex(), "corrupt_fragments": list(outcome.corrupt)}
        )

    return [Route("/records/{record_id}/data", fetch_data, methods=["POST"])]


async def _edge_fetch(request: Request) -> EdgeFetch:
    """The relay request of ``request``; raises :class:`ApiError` (413 for a body over
    :data:`MAX_BODY_BYTES`, 400 for a malformed one, 403 ``no_token``)."""
    record_id = hex_param(request.path_params["record_id"], "record_id")
    document = _object(parse_json(await _bounded(request)))
    token = access_token_from_body(record_id, document)
    return EdgeFetch(
        token, hex_field(document, "verify_key", 32), hex_field(document, "record_tx_id", 32)
    )


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object")
    return value


async def _bounded(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
    return bytes(body)



def relay_routes(
    genesis: Genesis,
    proofs: ProvenItems,
    headers: Headers,
    request: PeerExchange,
    sources: Callable[[], Sequence[str]],
    store: KeyValueStore,
    registry: CollectorRegistry,
) -> list[Route]:
    """The edge's fetch route over a relay whose nonces live in ``store`` (the edge's LevelDB;
    keys ``n`` and ``N``, :mod:`node.fetch_nonces`) and whose clock is the wall clock."""
    # Twice the window, as on the nodes: a fetch passes the freshness check up to the window
    # either side of its timestamp.
    nonces = FetchNonces(store, 2 * genesis.freshness_window_ms)
    relay = FetchRelay(genesis, proofs, headers, request, sources, nonces, wall_ms, registry)
    return fetch_routes(relay)
