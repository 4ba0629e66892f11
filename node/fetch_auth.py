"""Who may fetch a record's bulk fragments from this node, checked per signed fetch.

A fetch must be signed by a registered requester, stamped inside the genesis freshness window,
carry a nonce this node has not served (remembered on disk, :mod:`node.fetch_nonces`, so a
restart does not reopen replays) and be backed by a granted decision in the audit chain that
still stands: a revoked or expired grant, an attribute the authority has since removed, or a
blacklisting stop fetches as they stop new requests.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from crypto.errors import DecodeError, VerificationError
from crypto.policy import Policy, PolicyError, evaluate, parse
from crypto.signing import VerifyKey
from ledger.fetch import fetch_signing_payload
from ledger.ledger import Ledger
from ledger.records import RecordEntry
from node.localstore import LocalStore
from node.refusals import StorageRefused
from node.wire import FragmentGet


@lru_cache(maxsize=1024)
def _parsed(text: str) -> Policy:
    """A record's policy, parsed once: every fetch of a policy record checks it again."""
    return parse(text)


class FetchAuthorizer:
    """Checks fetches against ``ledger``'s committed state and ``clock_ms``."""

    def __init__(self, ledger: Ledger, local: LocalStore, clock_ms: Callable[[], int]) -> None:
        self._ledger = ledger
        self._genesis = ledger.genesis
        self._clock_ms = clock_ms
        # Twice the window: a fetch passes the freshness check up to ``window`` either side.
        self._nonces = local.fetch_nonces(2 * self._genesis.freshness_window_ms)

    def authorize(self, fetch: FragmentGet) -> None:
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
        now = self._clock_ms()
        if abs(now - fetch.timestamp_ms) > self._genesis.freshness_window_ms:
            raise StorageRefused(409, "stale", "fetch timestamp is outside the freshness window")
        if self._nonces.seen(fetch.requester, fetch.nonce):
            raise StorageRefused(409, "replayed", "fetch nonce already used")
        record = self._ledger.record(fetch.record_id)
        if record is None:
            raise StorageRefused(404, "not_found", "record does not exist")
        problem = self._not_granted(fetch.requester, record, now)
        if problem:
            raise StorageRefused(403, "not_granted", problem)
        if not self._nonces.use(fetch.requester, fetch.nonce, fetch.timestamp_ms, now):
            raise StorageRefused(409, "replayed", "fetch nonce already used")

    def _not_granted(self, requester: bytes, record: RecordEntry, now_ms: int) -> str:
        """Why ``requester`` may not have ``record``'s fragments now ("" if it may).

        A granted decision in the audit chain is needed, and it must still stand: the requester
        not blacklisted since; for an owner-grant record the grant neither revoked nor expired
        (a revoked grant is no longer the pair's active one); for a policy record the
        requester's latest attributes still satisfying the policy (an attribute the authority
        removed stops fetches too).
        """
        if self._ledger.is_blacklisted(requester):
            return "requester is blacklisted"
        if record.policy:
            member = self._ledger.member(requester)
            attributes = member.attributes if member is not None else ()
            try:
                if not evaluate(_parsed(record.policy), attributes):
                    return "the requester's attributes no longer satisfy the record's policy"
            except PolicyError:
                return "the record's policy does not parse"
        else:
            grant = self._ledger.grant(record.record_id, requester)
            if grant is None:
                return "no active grant (never granted, or revoked)"
            if grant.expires_at_ms <= now_ms:
                return "grant has expired"
        granted = any(
            a.granted and a.requester == requester
            for a in self._ledger.audit_by_record(record.record_id)
        )
        return "" if granted else "no committed sharing record grants this"

    def release(self, fetch: FragmentGet) -> None:
        """Forget ``fetch``'s nonce: the fetch it authorized handed out no data after all."""
        self._nonces.forget(fetch.requester, fetch.nonce, fetch.timestamp_ms)
