"""Pending client items (decoded, as the application named them) and the authorization votes
collected for them.

A vote can arrive before the request it is about (gossip reorders), so such votes wait in a
small unverified stash until the request is known and they can be checked.

A peer's approval enters the pool with its signature checked but its share not yet (a share
proof costs two pairings): it is *unchecked* until the node is idle or a block it builds needs
it (:mod:`consensus.machine`). Blocks prefer checked approvals.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from consensus.encoding import ItemKind
from consensus.item import Item
from consensus.votes import AuthVote, DecidedRequest

_STASH_PER_REQUEST = 64
_STASH_REQUESTS = 4096


@dataclass(frozen=True, slots=True)
class ReadyContent:
    """What a node could put in a block right now."""

    approved: tuple[DecidedRequest, ...]
    denied: tuple[DecidedRequest, ...]
    txs: tuple[Item, ...]

    def is_empty(self) -> bool:
        return not (self.approved or self.denied or self.txs)

    def item_ids(self) -> tuple[bytes, ...]:
        ids = [d.request_id for d in (*self.approved, *self.denied)]
        return (*ids, *(tx.item_id for tx in self.txs))


class ItemPool:
    """Items not yet committed, in arrival order, with verified votes per request."""

    def __init__(self) -> None:
        self._items: dict[bytes, Item] = {}
        self._arrived: dict[bytes, float] = {}
        self._votes: dict[bytes, dict[int, AuthVote]] = {}
        self._stash: dict[bytes, list[AuthVote]] = {}
        # (request id, voter) of approvals whose share is not checked yet, oldest first.
        self._unchecked: dict[tuple[bytes, int], None] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, ident: object) -> bool:
        return ident in self._items

    def items(self) -> list[Item]:
        return list(self._items.values())

    def request(self, ident: bytes) -> Item | None:
        item = self._items.get(ident)
        return item if item is not None and item.kind is ItemKind.REQUEST else None

    def add(self, item: Item, now: float) -> list[AuthVote]:
        """Add a new item; return stashed votes for it, which the caller must now verify."""
        ident = item.item_id
        self._items[ident] = item
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

    def add_vote(self, vote: AuthVote, *, checked: bool = True) -> None:
        """Record a signed vote (the caller has checked it does not conflict); ``checked``
        False for an approval whose share is still to be checked."""
        self._votes.setdefault(vote.request_id, {})[vote.voter] = vote
        if not checked:
            self._unchecked[(vote.request_id, vote.voter)] = None

    def is_checked(self, vote: AuthVote) -> bool:
        return (vote.request_id, vote.voter) not in self._unchecked

    def mark_checked(self, vote: AuthVote) -> None:
        self._unchecked.pop((vote.request_id, vote.voter), None)

    def drop_vote(self, vote: AuthVote) -> None:
        """Forget a vote that failed its check."""
        self._unchecked.pop((vote.request_id, vote.voter), None)
        self._votes.get(vote.request_id, {}).pop(vote.voter, None)

    def oldest_unchecked(self) -> AuthVote | None:
        for request_id, voter in self._unchecked:
            return self._votes[request_id][voter]
        return None

    def worth_checking(self, needed: dict[bytes, int], first: int) -> AuthVote | None:
        """The unchecked approval to check ahead: of the requests with fewer checked approvals
        than a block takes (``needed[id]``), voter ``first``'s if one waits, else the oldest.

        A block carries exactly ``needed`` approvals, and a claimant takes checked ones first,
        so checking more of one request ahead is work no block uses.
        """
        short: dict[bytes, bool] = {}
        oldest = None
        for request_id, voter in self._unchecked:
            lacking = short.get(request_id)
            if lacking is None:
                votes = self._votes[request_id]
                checked = sum(1 for v in votes.values() if v.approve and self.is_checked(v))
                lacking = short[request_id] = checked < needed.get(request_id, 0)
            if not lacking:
                continue
            if voter == first:
                return self._votes[request_id][voter]
            if oldest is None:
                oldest = self._votes[request_id][voter]
        return oldest

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
            for voter in self._votes.pop(ident, {}):
                self._unchecked.pop((ident, voter), None)
            self._stash.pop(ident, None)

    def arrival(self, rank: int) -> float | None:
        """When the ``rank``-th oldest item arrived (1: the oldest); None if fewer are here."""
        return next(islice(self._arrived.values(), rank - 1, None), None)

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
        """Requests with enough approvals (``needed[id]``, checked or not) or ``quorum`` denials,
        and, when ``include_txs``, the pending ordinary transactions; at most ``max_items``."""
        approved: list[DecidedRequest] = []
        denied: list[DecidedRequest] = []
        txs: list[Item] = []
        count = 0
        for ident, item in self._items.items():
            if count >= max_items:
                break
            if item.kind is ItemKind.TX:
                if include_txs:
                    txs.append(item)
                    count += 1
                continue
            # Checked approvals first: a block then needs as few share checks as possible.
            votes = sorted(
                self._votes.get(ident, {}).values(), key=lambda v: (not self.is_checked(v), v.voter)
            )
            yes = [v for v in votes if v.approve]
            no = [v for v in votes if not v.approve]
            need = needed.get(ident)
            if need is not None and len(yes) >= need:
                chosen = sorted(yes[:need], key=lambda v: v.voter)
                approved.append(DecidedRequest(item, tuple(chosen)))
                count += 1
            elif len(no) >= quorum:
                denied.append(DecidedRequest(item, tuple(no[:quorum])))
                count += 1
        return ReadyContent(tuple(approved), tuple(denied), tuple(txs))
