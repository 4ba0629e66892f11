"""Refusals of the storage protocols, and what a peer's refusal tells the node that asked.

A node refuses a fragment or a fetch with :class:`StorageRefused`, which carries the HTTP status
and code the API answers with. Over libp2p the refusal travels as a ``REJECTED`` answer whose
detail is :attr:`StorageRefused.detail`. The node gathering fragments for
a fetch reads those back, so that when its peers refuse the fetch for the requester's own fault
(a nonce already used, a stale timestamp) the client is told so instead of a bare 503.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from node.p2p import P2PError, RemoteError
from node.p2p.envelope import Status


class StorageRefused(Exception):
    """A fragment or fetch the node refuses; ``status`` is the HTTP status it maps to."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @property
    def detail(self) -> str:
        """The refusal as told to a peer over libp2p: ``"<code>: <message>"``."""
        return f"{self.code}: {self.message}"


#: Refusals of a fetch by a peer that are the requester's doing, with their HTTP status, in the
#: order they are reported when peers disagree equally often.
PEER_REFUSALS = {
    "replayed": 409,
    "stale": 409,
    "bad_signature": 403,
    "not_registered": 403,
    "not_granted": 403,
    # The access token's own faults (node.fetch_auth, node.fetch_tokens).
    "token_not_yours": 403,
    "decision_other_record": 403,
    "decision_denied": 403,
    "token_expired": 403,
    "token_outlives_grant": 403,
    "decision_expired": 403,
    # The token's abe_binding against the policy record's key check (node.fetch_tokens).
    "abe_binding_missing": 403,
    "abe_binding_wrong": 403,
    "abe_binding_unexpected": 403,
    # Peers retry an unknown decision while they catch up; still unknown after that, it is one
    # no node committed.
    "decision_unknown": 403,
}


def peer_refusal(exc: P2PError) -> StorageRefused | None:
    """The requester-caused refusal a peer answered (see :attr:`StorageRefused.detail`), or
    None for any other failure."""
    if not isinstance(exc, RemoteError) or exc.code != Status.REJECTED:
        return None
    code, _, message = exc.detail.partition(":")
    status = PEER_REFUSALS.get(code.strip())
    if status is None:
        return None
    return StorageRefused(status, code.strip(), message.strip() or code.strip())


def most_common(refusals: Sequence[StorageRefused]) -> StorageRefused:
    """The refusal most peers gave (ties: the first in :data:`PEER_REFUSALS`)."""
    counts = Counter(r.code for r in refusals)
    order = list(PEER_REFUSALS)
    code = max(counts, key=lambda c: (counts[c], -order.index(c)))
    first = next(r for r in refusals if r.code == code)
    message = f"{counts[code]} node(s) refused the fetch: {first.message}"
    return StorageRefused(first.status, code, message)
