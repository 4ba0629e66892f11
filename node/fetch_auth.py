"""Who may fetch a record's bulk fragments from this node, checked per access token.

A fetch is an access token (:mod:`ledger.access_token`). It must be signed by a registered
requester, stamped inside the genesis freshness window and carry a nonce this node has not
served (remembered on disk, :mod:`node.fetch_nonces`, so a restart does not reopen replays).
The requester must not be blacklisted. The token must name a committed, granted sharing
decision for exactly this record and this requester (:mod:`node.fetch_tokens`), and that
access must still stand: for an owner-grant record the grant neither revoked nor expired, for
a policy record the requester's latest attributes still satisfying the policy, and for a policy
record whose dual record commits a key check the token's ``abe_binding`` must hash to it
(:func:`~node.fetch_tokens.check_binding`: proof the requester recovered K_abe; an owner-grant
record takes no binding). Last, the token
must not have expired, may not outlive the grant, and its decision must be younger than
:data:`~ledger.access_token.DECISION_FETCH_WINDOW_MS`.

How the access limit delta bounds fetches: delta is counted when access is decided, not when
data is fetched. A node approves a request only while the pair's count of granted decisions is
below the record's delta (:mod:`node.admission`), and the block applying a granted result
raises the count and refuses one above it (:mod:`ledger.transition`). One granted decision is
one access; a token names one decision and is honoured only within that decision's fetch
window. So a requester holds at most delta decisions per record, each opening the data for at
most a day (and never past its grant); within that window it may fetch again, each fetch under
a fresh nonce.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from crypto.errors import DecodeError, VerificationError
from crypto.policy import Policy, PolicyError, evaluate, parse
from crypto.signing import VerifyKey
from ledger.ledger import Ledger
from ledger.records import Member, RecordEntry
from node.fetch_tokens import DecisionBook, check_binding, check_expiry
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
        self._decisions = DecisionBook(ledger)

    def authorize(self, fetch: FragmentGet) -> None:
        """Signature, freshness, replay, token and standing checks; raises
        :class:`StorageRefused`."""
        token = fetch.token
        member = self._ledger.member(token.requester)
        if member is None:
            raise StorageRefused(403, "not_registered", "requester is not a registered member")
        try:
            token.verify_signature(VerifyKey(member.verify_key), self._genesis.chain_id)
        except (VerificationError, DecodeError) as exc:
            raise StorageRefused(
                403, "bad_signature", "fetch is not signed by the requester"
            ) from exc
        now = self._clock_ms()
        if abs(now - token.timestamp_ms) > self._genesis.freshness_window_ms:
            raise StorageRefused(409, "stale", "fetch timestamp is outside the freshness window")
        if self._nonces.seen(token.requester, token.nonce):
            raise StorageRefused(409, "replayed", "fetch nonce already used")
        if self._ledger.is_blacklisted(token.requester):
            raise StorageRefused(403, "not_granted", "requester is blacklisted")
        record = self._ledger.record(token.record_id)
        if record is None:
            raise StorageRefused(404, "not_found", "record does not exist")
        check_binding(token, record.policy, record.abe_ciphertext)
        decision = self._decisions.check(token)
        problem, grant_expiry = self._standing(member, record, now)
        if problem:
            raise StorageRefused(403, "not_granted", problem)
        check_expiry(token, decision, grant_expiry, now)
        if not self._nonces.use(token.requester, token.nonce, token.timestamp_ms, now):
            raise StorageRefused(409, "replayed", "fetch nonce already used")

    def _standing(
        self, requester: Member, record: RecordEntry, now_ms: int
    ) -> tuple[str, int | None]:
        """Why ``requester``'s granted access to ``record`` no longer stands ("" if it does),
        and the expiry of its grant (``None`` for a policy record).

        For an owner-grant record the grant must be neither revoked (a revoked grant is no
        longer the pair's active one) nor expired; for a policy record the requester's latest
        attributes must still satisfy the policy (an attribute the authority removed stops
        fetches too).
        """
        if record.policy:
            try:
                if not evaluate(_parsed(record.policy), requester.attributes):
                    return "the requester's attributes no longer satisfy the record's policy", None
            except PolicyError:
                return "the record's policy does not parse", None
            return "", None
        grant = self._ledger.grant(record.record_id, requester.member_id)
        if grant is None:
            return "no active grant (never granted, or revoked)", None
        if grant.expires_at_ms <= now_ms:
            return "grant has expired", grant.expires_at_ms
        return "", grant.expires_at_ms

    def release(self, fetch: FragmentGet) -> None:
        """Forget ``fetch``'s nonce: the fetch it authorized handed out no data after all."""
        token = fetch.token
        self._nonces.forget(token.requester, token.nonce, token.timestamp_ms)
