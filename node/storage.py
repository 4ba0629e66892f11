"""Erasure-coded bulk storage across the consensus nodes (DESIGN 3.4).

Node ``i`` keeps fragment ``i`` of every record. A fragment is checked against the storage
commitment of the committed PutRecord before it is kept for good; one that arrives before its
record is committed waits in a bounded pending area and is checked when first needed.

A node serves its fragment only for a fetch the requester signed (fresh timestamp, unused
nonce) and only if a committed sharing record grants that requester the record. The node that
answers the HTTP fetch gathers ``t`` fragments (its own and its peers', each peer checking the
same signed fetch itself) and rebuilds the ciphertext.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from crypto.errors import DecodeError, VerificationError
from crypto.signing import VerifyKey
from crypto.storage import CorruptFragmentError, Fragment, StorageCommitment, StorageError, rebuild
from ledger.genesis import Genesis
from ledger.ledger import Ledger
from node.localstore import LocalStore, PendingAreaFull
from node.p2p import P2PError
from node.wire import FragmentGet, FragmentPut, fetch_signing_payload

logger = logging.getLogger("iomtshare.node.storage")

PUT_PROTOCOL = "/iomtshare/fragments/put/1"
GET_PROTOCOL = "/iomtshare/fragments/get/1"
_REPLAY_CACHE = 100_000

#: ``request(node_index, protocol, payload) -> response`` over libp2p (raises on failure).
PeerRequest = Callable[[int, str, bytes], Awaitable[bytes]]


class StorageRefused(Exception):
    """A fragment or fetch the node refuses; ``status`` is the HTTP status it maps to."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


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
        self._local = local
        self._index = index
        self._clock_ms = clock_ms
        self._seen_fetches: set[tuple[bytes, bytes]] = set()

    # -- keeping fragments --------------------------------------------------------------------

    def _commitment(self, record_id: bytes) -> StorageCommitment | None:
        record = self._ledger.record(record_id)
        if record is None:
            return None
        try:
            return StorageCommitment.from_bytes(record.storage_commitments)
        except DecodeError as exc:
            raise StorageRefused(400, "no_storage", "record has no storage commitment") from exc

    def keep(self, record_id: bytes, raw: bytes) -> None:
        """Keep fragment bytes meant for this node; raises :class:`StorageRefused`."""
        try:
            fragment = Fragment.from_bytes(raw)
        except DecodeError as exc:
            raise StorageRefused(400, "bad_fragment", f"not a fragment: {exc}") from exc
        if fragment.index != self._index:
            raise StorageRefused(400, "bad_fragment", f"fragment {fragment.index} is not ours")
        commitment = self._commitment(record_id)
        if commitment is None:
            try:
                self._local.save_pending(record_id, raw)
            except PendingAreaFull as exc:
                raise StorageRefused(429, "busy", str(exc)) from exc
            logger.info("fragment pending record=%s", record_id.hex()[:16])
            return
        self._check(commitment, fragment)
        self._ledger.fragments.put(record_id, self._index, raw)
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
        raw = self._local.pending_fragment(record_id)
        commitment = self._commitment(record_id)
        if raw is None or commitment is None:
            return None
        try:
            self._check(commitment, Fragment.from_bytes(raw))
        except (StorageRefused, DecodeError):
            logger.warning("pending fragment rejected record=%s", record_id.hex()[:16])
            return None
        self._ledger.fragments.put(record_id, self._index, raw)
        self._local.drop_pending(record_id)
        return raw

    # -- serving fetches ----------------------------------------------------------------------

    def authorize_fetch(self, fetch: FragmentGet) -> None:
        """Signature, freshness, replay and grant checks; raises :class:`StorageRefused`."""
        member = self._ledger.member(fetch.requester)
        if member is None:
            raise StorageRefused(403, "not_registered", "requester is not a registered member")
        payload = fetch_signing_payload(
            self._genesis.chain_id,
            fetch.record_id,
            fetch.requester,
            fetch.timestamp_ms,
            fetch.nonce,
        )
        try:
            VerifyKey(member.verify_key).verify(payload, fetch.signature)
        except (VerificationError, DecodeError) as exc:
            raise StorageRefused(
                403, "bad_signature", "fetch is not signed by the requester"
            ) from exc
        if abs(self._clock_ms() - fetch.timestamp_ms) > self._genesis.freshness_window_ms:
            raise StorageRefused(409, "stale", "fetch timestamp is outside the freshness window")
        key = (fetch.requester, fetch.nonce)
        if key in self._seen_fetches:
            raise StorageRefused(409, "replayed", "fetch nonce already used")
        if self._ledger.record(fetch.record_id) is None:
            raise StorageRefused(404, "not_found", "record does not exist")
        if not self._granted(fetch.requester, fetch.record_id):
            raise StorageRefused(403, "not_granted", "no committed sharing record grants this")
        if len(self._seen_fetches) >= _REPLAY_CACHE:
            self._seen_fetches.clear()
        self._seen_fetches.add(key)

    def _granted(self, requester: bytes, record_id: bytes) -> bool:
        if self._ledger.is_blacklisted(requester):
            return False
        return any(
            a.granted and a.requester == requester for a in self._ledger.audit_by_record(record_id)
        )

    async def serve_put(self, payload: bytes) -> bytes:
        """Protocol handler body for :data:`PUT_PROTOCOL`; raises :class:`StorageRefused`."""
        try:
            put = FragmentPut.from_bytes(payload)
        except DecodeError as exc:
            raise StorageRefused(400, "malformed", f"malformed fragment put: {exc}") from exc
        self.keep(put.record_id, put.fragment)
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
            raise StorageRefused(404, "not_found", "no fragment of this record here")
        return raw

    async def fetch(
        self, fetch: FragmentGet, peers: list[int], request: PeerRequest
    ) -> FetchOutcome:
        """Authorize ``fetch`` here, gather ``t`` fragments and rebuild the ciphertext.

        Raises :class:`StorageRefused` (403/404/409, or 503 when too few fragments arrive).
        """
        self.authorize_fetch(fetch)
        commitment = self._commitment(fetch.record_id)
        if commitment is None:
            raise StorageRefused(404, "not_found", "record does not exist")
        found: dict[int, Fragment] = {}
        own = self.own_fragment(fetch.record_id)
        if own is not None:
            found[self._index] = Fragment.from_bytes(own)
        needed = commitment.threshold

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
            raise StorageRefused(503, "unavailable", f"cannot rebuild the data: {exc}") from exc
        return FetchOutcome(rebuilt.data, rebuilt.corrupt_indexes)
