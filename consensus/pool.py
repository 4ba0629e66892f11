"""Pending client items and the authorization votes collected for them.

A vote can arrive before the request it is about (gossip reorders), so such votes wait in a
small unverified stash until the request body is known and they can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.encoding import ItemKind
from consensus.messages import Submission
from consensus.votes import AuthVote, Bundle

_STASH_PER_REQUEST = 64
_STASH_REQUESTS = 4096


@dataclass(frozen=True, slots=True)
class ReadyContent:
    """What a node could put in a block right now."""

    approved: tuple[Bundle, ...]
    denied: tuple[Bundle, ...]
    txs: tuple[bytes, ...]

    def is_empty(self) -> bool:
        return not (self.approved or self.denied or self.txs)

    def tx_ids(self) -> tuple[bytes, ...]:
        return tuple(Submission(ItemKind.TX, tx).item_id for tx in self.txs)


class ItemPool:
    """Items not yet committed, in arrival order, with verified votes per request."""

    def __init__(self) -> None:
        self._items: dict[bytes, Submission] = {}
        self._arrived: dict[bytes, float] = {}
        self._votes: dict[bytes, dict[int, AuthVote]] = {}
        self._stash: dict[bytes, list[AuthVote]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, ident: object) -> bool:
        return ident in self._items

    def items(self) -> list[Submission]:
        return list(self._items.values())

    def request(self, ident: bytes) -> bytes | None:
        sub = self._items.get(ident)
        return sub.body if sub is not None and sub.kind is ItemKind.REQUEST else None

    def add(self, sub: Submission, now: float) -> list[AuthVote]:
        """Add a new item; return stashed votes for it, which the caller must now verify."""
        ident = sub.item_id
        self._items[ident] = sub
        self._arrived[ident] = now
        return self._stash.pop(ident, [])

    def stash(self, vote: AuthVote) -> None:
        """Keep a vote whose request is not known yet (bounded, oldest requests kept)."""
        bucket = self._stash.get(vote.request_id)
        if bucket is None:
            if len(self._stash) >= _STASH_REQUESTS:
                return
            bucket = self._stash[vote.request_id] = []
        if len(bucket) < _STASH_PER_REQUEST:
            bucket.append(vote)

    def vote_of(self, request_id: bytes, voter: int) -> AuthVote | None:
        return self._votes.get(request_id, {}).get(voter)

    def add_vote(self, vote: AuthVote) -> None:
        """Record a verified vote (the caller has checked it does not conflict)."""
        self._votes.setdefault(vote.request_id, {})[vote.voter] = vote

    def votes_of(self, voter: int) -> list[AuthVote]:
        """This voter's votes on items still pending (for rebroadcast)."""
        out = []
        for ident in self._items:
            vote = self._votes.get(ident, {}).get(voter)
            if vote is not None:
                out.append(vote)
        return out

    def remove(self, ids: tuple[bytes, ...]) -> None:
        for ident in ids:
            self._items.pop(ident, None)
            self._arrived.pop(ident, None)
            self._votes.pop(ident, None)
            self._stash.pop(ident, None)

    def oldest_tx_time(self) -> float | None:
        times = [self._arrived[i] for i, s in self._items.items() if s.kind is ItemKind.TX]
        return min(times) if times else None

    def ready(
        self,
        quorum: int,
        needed: dict[bytes, int],
        include_txs: bool,
        max_items: int,
    ) -> ReadyContent:
        """Bundles for requests with enough approvals (``needed[id]``) or ``quorum`` denials,
        and, when ``include_txs``, the pending ordinary transactions; at most ``max_items``."""
        approved: list[Bundle] = []
        denied: list[Bundle] = []
        txs: list[bytes] = []
        count = 0
        for ident, sub in self._items.items():
            if count >= max_items:
                break
            if sub.kind is ItemKind.TX:
                if include_txs:
                    txs.append(sub.body)
                    count += 1
                continue
            votes = sorted(self._votes.get(ident, {}).values(), key=lambda v: v.voter)
            yes = [v for v in votes if v.approve]
            no = [v for v in votes if not v.approve]
            need = needed.get(ident)
            if need is not None and len(yes) >= need:
                approved.append(Bundle(sub.body, tuple(yes[:need])))
                count += 1
            elif len(no) >= quorum:
                denied.append(Bundle(sub.body, tuple(no[:quorum])))
                count += 1
        return ReadyContent(tuple(approved), tuple(denied), tuple(txs))
