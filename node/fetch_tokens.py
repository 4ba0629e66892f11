"""The decision an access token names, as this node's committed ledger knows it.

A token's ``decision_id`` is the request id of a committed AccessRequest; the sharing result
deciding it sits in the same block, and the audit chain holds its link. The lookup reads where the
request committed, that block's audit links and its header time; a committed decision never
changes, so the ones found are kept (a bounded number) and a fetch repeated under the same
token costs no reads. A decision not found is not kept: this node may commit it a moment later.

:func:`check_binding` checks a token's ``abe_binding`` against the key check the record's dual
record commits (:mod:`crypto.abe.dual`): the binding hashes to it, or the fetch is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.abe.dual import binding_matches, read_key_check
from crypto.errors import DecodeError
from ledger.access_token import DECISION_FETCH_WINDOW_MS, AccessToken
from ledger.ledger import Ledger
from ledger.records import AuditKind
from node.keycache import Lru
from node.refusals import StorageRefused

#: Committed decisions kept in memory.
CACHED_DECISIONS = 4096


@dataclass(frozen=True, slots=True)
class CommittedDecision:
    """What a token is checked against: who asked for which record, the outcome, and when the
    block holding it was made."""

    record_id: bytes
    requester: bytes
    granted: bool
    time_ms: int


def token_refused(code: str, message: str) -> StorageRefused:
    return StorageRefused(403, code, message)


class DecisionBook:
    """Committed decisions of ``ledger`` by request id."""

    def __init__(self, ledger: Ledger, size: int = CACHED_DECISIONS) -> None:
        self._ledger = ledger
        self._known: Lru[bytes, CommittedDecision] = Lru(size)

    def get(self, request_id: bytes) -> CommittedDecision | None:
        found = self._known.get(request_id)
        if found is None:
            found = self._read(request_id)
            if found is not None:
                self._known.put(request_id, found)
        return found

    def _read(self, request_id: bytes) -> CommittedDecision | None:
        ledger = self._ledger
        stored = ledger.transaction(request_id)
        if stored is None:
            return None
        height = stored.height
        link = next(
            (
                a
                for a in ledger.audit_by_heights(height, height + 1)
                if a.kind == AuditKind.DECISION and a.request_id == request_id
            ),
            None,
        )
        headers = ledger.block_headers(height, height + 1, limit=1)
        if link is None or not headers:
            return None
        return CommittedDecision(link.record_id, link.requester, link.granted, headers[0].time_ms)

    def check(self, token: AccessToken) -> CommittedDecision:
        """The decision ``token`` names, if it is a committed grant of exactly the token's
        record to the token's requester; else raises :class:`StorageRefused` (403)."""
        return check_decision(token, self.get(token.decision_id))


def check_decision(token: AccessToken, decision: CommittedDecision | None) -> CommittedDecision:
    """``decision`` (the one ``token`` names, ``None`` if not committed) if it grants exactly
    the token's record to the token's requester; else raises :class:`StorageRefused` (403).
    Shared by the nodes and the edge relay (:mod:`node.edge.fetch_relay`)."""
    if decision is None:
        raise token_refused(
            "decision_unknown", "the token names no committed sharing decision (yet)"
        )
    if decision.requester != token.requester:
        raise token_refused("token_not_yours", "the token's decision was made for another member")
    if decision.record_id != token.record_id:
        raise token_refused("decision_other_record", "the token's decision is for another record")
    if not decision.granted:
        raise token_refused("decision_denied", "the token's decision was a denial")
    return decision

def check_expiry(
    token: AccessToken, decision: CommittedDecision, grant_expiry_ms: int | None, now_ms: int
) -> None:
    """Raise :class:`StorageRefused` (403) if ``token`` has expired, outlives the owner's grant
    (``grant_expiry_ms``; ``None`` for a policy record) or names a decision whose fetch window
    (:data:`~ledger.access_token.DECISION_FETCH_WINDOW_MS`) has closed."""
    if token.expires_at_ms <= now_ms:
        raise token_refused("token_expired", "the token has expired")
    if grant_expiry_ms is not None and token.expires_at_ms > grant_expiry_ms:
        raise token_refused("token_outlives_grant", "the token expires after the grant does")
    if decision.time_ms + DECISION_FETCH_WINDOW_MS <= now_ms:
        raise token_refused(
            "decision_expired",
            "the decision is older than a fetch may be: request access again",
        )


def check_binding(token: AccessToken, policy: str, abe_ciphertext: bytes) -> None:
    """Raise :class:`StorageRefused` unless ``token``'s ``abe_binding`` fits the record (its
    ``policy`` and ``abe_ciphertext``): for a policy record whose dual record commits a key
    check, a binding that hashes to it (403 ``abe_binding_missing`` / ``abe_binding_wrong``);
    for an owner-grant record or a policy record without a key check, no binding (403
    ``abe_binding_unexpected``). Shared by the nodes and the edge relay."""
    check = None
    if policy:
        try:
            check = read_key_check(abe_ciphertext)
        except DecodeError as exc:  # admission decoded it: only a damaged store gets here
            raise StorageRefused(
                500, "record_unreadable", f"the record's dual record does not decode: {exc}"
            ) from exc
    if check is None:
        if token.abe_binding is not None:
            kind = "a policy record without a key check" if policy else "an owner-grant record"
            raise token_refused(
                "abe_binding_unexpected", f"the record is {kind}: leave abe_binding out"
            )
        return
    if token.abe_binding is None:
        raise token_refused(
            "abe_binding_missing",
            "a policy record needs the token's abe_binding, H(record id, K_abe), made after "
            "recovering K_abe with an attribute key",
        )
    if not binding_matches(check, token.abe_binding):
        raise token_refused(
            "abe_binding_wrong", "the token's abe_binding does not match the record's key check"
        )
