"""Erasure-coded bulk storage across the consensus nodes (DESIGN 3.4).

Node ``i`` keeps fragment ``i`` of every record, checked against the storage commitment of the
committed PutRecord. Who may hand a node a fragment:

* the owner, over HTTP, only for a record already committed on that node (the client library
  waits for the PutRecord to commit before it posts). That node checks all n fragments against
  the commitment before it keeps its own and hands the others out, so an unknown record id
  gets 404 and parks nothing. We chose this over accepting uncommitted records signed by their
  owner: a signature would still let any registered member park data for records that never
  commit, while the commit costs an honest owner nothing it does not already wait for;
* a genesis peer, over libp2p: a node that lags may get its fragment before it has committed
  the record. Such fragments wait in the bounded pending area (:mod:`node.pending_fragments`),
  charged to the peer that sent them, and the one matching the commitment is kept once the
  record has committed here (at the next storage call after the commit, or when a fetch needs
  it); the others are dropped.

A node serves its fragment only for a fetch the requester signed (fresh timestamp, unused
nonce) and only while a granted decision that still stands backs it (:mod:`node.fetch_auth`).
The node that answers the HTTP fetch gathers ``t`` fragments (its own and its peers', each peer
checking the same signed fetch itself) and rebuilds the ciphertext.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import trio

from crypto.errors import DecodeError
from crypto.storage import CorruptFragmentError, Fragment, StorageCommitment, StorageError, rebuild
from ledger.genesis import Genesis
from ledger.ledger import Ledger
from node.fetch_auth import FetchAuthorizer
from node.localstore import LocalStore
from node.p2p import P2PError
from node.pending_fragments import CandidateConflict, PendingFull
from node.refusals import StorageRefused as StorageRefused  # callers import it from here
from node.refusals import most_common, peer_refusal
from node.wire import FragmentGet, FragmentPut

logger = logging.getLogger("iomtshare.node.storage")

PUT_PROTOCOL = "/iomtshare/fragments/put/1"
GET_PROTOCOL = "/iomtshare/fragments/get/1"

#: ``request(node_index, protocol, payload) -> response`` over libp2p (raises on failure).
PeerRequest = Callable[[int, str, bytes], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """A rebuilt ciphertext and the fragment indexes that failed their check."""

    data: bytes
    corrupt: tuple[int, ...]


class FragmentKeeper:
    """Keeps this node's fragments and answers the storage protocols."""

    def __init__(
        self,
        ledger: Ledger,
        local: LocalStore,
        index: int,
        clock_ms: Callable[[], int],
    ) -> None:
        self._ledger = ledger
        self._genesis: Genesis = ledger.genesis
        self._pending = local.pending
        self._settled_height = -1
        self._index = index
        self._clock_ms = clock_ms
        self._fetches = FetchAuthorizer(ledger, local, clock_ms)

    # -- keeping fragments --------------------------------------------------------------------

    def _commitment(self, record_id: bytes) -> StorageCommitment | None:
        record = self._ledger.record(record_id)
        if record is None:
            return None
        try:
            return StorageCommitment.from_bytes(record.storage_commitments)
        except DecodeError as exc:
            raise StorageRefused(400, "no_storage", "record has no storage commitment") from exc

    def store_upload(self, record_id: bytes, fragments: Sequence[bytes]) -> None:
        """Check all fragments of an owner's upload (order 1..n) against the committed record
        and keep this node's; raises :class:`StorageRefused` (404 record not committed here,
        400 a fragment malformed, misplaced or not matching)."""
        commitment = self._commitment(record_id)
        if commitment is None:
            raise StorageRefused(404, "not_found", "record is not committed on this node")
        if len(fragments) != commitment.total:
            raise StorageRefused(400, "bad_fragment", f"expected {commitment.total} fragments")
        for position, raw in enumerate(fragments, start=1):
            self._check(commitment, _decode(raw, position))
        self._store(record_id, fragments[self._index - 1])

    def keep(self, record_id: bytes, raw: bytes, uploader: int) -> None:
        """Keep (record committed here) or park (not yet) the fragment node ``uploader`` handed
        over; raises :class:`StorageRefused` (400 malformed, misplaced or not matching, 409 the
        uploader parked different bytes already, 429 the pending area is full for it)."""
        fragment = _decode(raw, self._index)
        self._settle_new_commits()
        commitment = self._commitment(record_id)
        if commitment is not None:
            self._check(commitment, fragment)
            self._store(record_id, raw)
            return
        now = self._clock_ms()
        self._expire(now)
        try:
            self._pending.park(record_id, raw, uploader, now)
        except CandidateConflict as exc:
            raise StorageRefused(409, "conflict", str(exc)) from exc
        except PendingFull as exc:
            raise StorageRefused(429, "busy", str(exc)) from exc
        logger.info("fragment parked record=%s from=%d", record_id.hex()[:16], uploader)

    def _store(self, record_id: bytes, raw: bytes) -> None:
        self._ledger.fragments.put(record_id, self._index, raw)
        self._pending.drop_record(record_id)
        logger.info("fragment stored record=%s index=%d", record_id.hex()[:16], self._index)

    @staticmethod
    def _check(commitment: StorageCommitment, fragment: Fragment) -> None:
        try:
            commitment.verify_fragment(fragment)
        except CorruptFragmentError as exc:
            raise StorageRefused(400, "bad_fragment", str(exc)) from exc

    def own_fragment(self, record_id: bytes) -> bytes | None:
        """This node's checked fragment of ``record_id`` (promoting a pending one)."""
        stored = self._ledger.fragments.get(record_id, self._index)
        if stored is not None:
            return stored.fragment
        if not self._pending.candidates(record_id):
            return None
        return self._settle(record_id)

    def _settle(self, record_id: bytes) -> bytes | None:
        """Promote the parked candidate that matches the record's commitment and drop the
        others; returns the promoted bytes. Nothing changes while the record is not committed."""
        candidates = self._pending.candidates(record_id)
        try:
            commitment = self._commitment(record_id)
        except StorageRefused:
            self._pending.drop(candidates)  # a record without storage: nothing can match
            return None
        if commitment is None:
            return None
        for candidate in candidates:
            raw = self._pending.read(candidate)
            try:
                if raw is None:
                    continue
                self._check(commitment, _decode(raw, self._index))
            except StorageRefused as exc:
                logger.warning(
                    "parked fragment rejected record=%s from=%s reason=%s",
                    record_id.hex()[:16],
                    list(candidate.uploaders),
                    exc.message,
                )
                continue
            self._store(record_id, raw)
            return raw
        self._pending.drop(candidates)
        return None

    def _settle_new_commits(self) -> None:
        """After new blocks, settle the parked fragments whose records they committed."""
        height = self._ledger.height
        if height == self._settled_height:
            return
        self._settled_height = height
        for record_id in self._pending.records():
            if self._ledger.record(record_id) is not None:
                self._settle(record_id)

    def _expire(self, now_ms: int) -> None:
        """Drop candidates past their time-to-live, promoting those of committed records."""
        expired = self._pending.expired(now_ms)
        for record_id in {c.record_id for c in expired}:
            self._settle(record_id)
        self._pending.drop(expired)

    # -- serving fetches ----------------------------------------------------------------------

    def authorize_fetch(self, fetch: FragmentGet) -> None:
        """Signature, freshness, replay and grant checks; raises :class:`StorageRefused`."""
        self._fetches.authorize(fetch)

    async def serve_put(self, payload: bytes, uploader: int) -> bytes:
        """Protocol handler body for :data:`PUT_PROTOCOL` (``uploader``: the sending node's
        index); raises :class:`StorageRefused`."""
        try:
            put = FragmentPut.from_bytes(payload)
        except DecodeError as exc:
            raise StorageRefused(400, "malformed", f"malformed fragment put: {exc}") from exc
        self.keep(put.record_id, put.fragment, uploader)
        return b""

    async def serve_get(self, payload: bytes) -> bytes:
        """Protocol handler body for :data:`GET_PROTOCOL`; raises :class:`StorageRefused`."""
        try:
            fetch = FragmentGet.from_bytes(payload)
        except DecodeError as exc:
            raise StorageRefused(400, "malformed", f"malformed fragment get: {exc}") from exc
        self.authorize_fetch(fetch)
        raw = self.own_fragment(fetch.record_id)
        if raw is None:
            # Nothing handed out, so the nonce is not used up (as in :meth:`fetch`).
            self._fetches.release(fetch)
            raise StorageRefused(404, "not_found", "no fragment of this record here")
        return raw

    async def fetch(
        self, fetch: FragmentGet, peers: list[int], request: PeerRequest
    ) -> FetchOutcome:
        """Authorize ``fetch`` here, gather ``t`` fragments and rebuild the ciphertext.

        Raises :class:`StorageRefused` (403/404/409, the peers' refusal when they refuse it,
        or 503 when too few fragments arrive).
        """
        self.authorize_fetch(fetch)
        try:
            commitment = self._commitment(fetch.record_id)
            if commitment is None:
                raise StorageRefused(404, "not_found", "record does not exist")
            own = self.own_fragment(fetch.record_id)
            found = {} if own is None else {self._index: Fragment.from_bytes(own)}
            return await gather(commitment, found, fetch, peers, request)
        except StorageRefused:
            # No data left this node for the nonce, so it is not used up here: a retry once the
            # lagging side has the grant can still succeed (peers that served it refuse it).
            self._fetches.release(fetch)
            raise


async def gather(
    commitment: StorageCommitment,
    found: dict[int, Fragment],
    fetch: FragmentGet,
    peers: list[int],
    request: PeerRequest,
) -> FetchOutcome:
    """Add checked fragments from ``peers`` to ``found`` until ``t``, then rebuild.

    Raises :class:`StorageRefused`: the peers' most common refusal that is the requester's doing
    (a replayed nonce, say) when too few fragments arrive, else 503.
    """
    needed = commitment.threshold
    refusals: list[StorageRefused] = []

    async def ask(peer: int, cancel: trio.CancelScope) -> None:
        try:
            raw = await request(peer, GET_PROTOCOL, fetch.to_bytes())
            fragment = Fragment.from_bytes(raw)
            commitment.verify_fragment(fragment)
        except (DecodeError, StorageError) as exc:
            logger.warning("bad fragment from node=%d reason=%s", peer, exc)
            return
        except P2PError as exc:
            logger.info("fragment unavailable node=%d reason=%s", peer, exc)
            refused = peer_refusal(exc)
            if refused is not None:
                refusals.append(refused)
            return
        found[fragment.index] = fragment
        if len(found) >= needed:
            cancel.cancel()

    if len(found) < needed:
        async with trio.open_nursery() as nursery:
            for peer in peers:
                nursery.start_soon(ask, peer, nursery.cancel_scope)
    try:
        rebuilt = rebuild(commitment, found.values())
    except StorageError as exc:
        if refusals:
            raise most_common(refusals) from exc
        raise StorageRefused(503, "unavailable", f"cannot rebuild the data: {exc}") from exc
    return FetchOutcome(rebuilt.data, rebuilt.corrupt_indexes)


def _decode(raw: bytes, index: int) -> Fragment:
    """Fragment ``index`` from ``raw``; raises :class:`StorageRefused` (400)."""
    try:
        fragment = Fragment.from_bytes(raw)
    except DecodeError as exc:
        raise StorageRefused(400, "bad_fragment", f"fragment {index} is malformed: {exc}") from exc
    if fragment.index != index:
        raise StorageRefused(400, "bad_fragment", f"fragment {fragment.index} is not at {index}")
    return fragment
