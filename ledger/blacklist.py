"""Denials, the blacklist and its lifting (seed 000's defence against request flooding).

Every denied access request adds one to the requester's denial count (over all records); at the
genesis ``denial_limit`` the requester is blacklisted, and nodes then refuse its requests
outright. Two things make that livable for members and operators:

* :class:`Standing` says, before it happens, how many denials a member has left. The node puts
  it in every decision it answers (``GET /requests/{id}``) and the CLI warns when few are left.
* Only the authority lifts a blacklisting, with a signed :class:`~ledger.transactions.Unblacklist`
  that names the height of the blacklisting it lifts (so a held-back one cannot lift a later
  blacklisting). Lifting clears the denial count and leaves an entry on the sharing-audit chain
  (:class:`~ledger.records.AuditKind`), next to the decisions that led to it.

Why an authority decision rather than an expiry: the blacklist stops members who flood the
nodes with requests they may not make. An expiry lets such a member simply wait and start again,
and lifts the blacklisting of a member who was wrongly denied no sooner than one who misbehaved.
The authority already vouches for every member (it registers them and signs their attributes),
so it is the party that can tell the two apart; its decision is signed and on the audit chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ledger import schema
from ledger.genesis import Genesis
from ledger.ordering import RuleBroken
from ledger.records import BlacklistEntry, Counter
from ledger.transactions import Unblacklist

#: A member with this many denials or fewer left before the blacklist is warned.
WARN_WHEN_LEFT = 2


class Overlay(Protocol):
    """State reads and writes of the block being applied (``None`` deletes)."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes | None) -> None: ...


class StandingSource(Protocol):
    """The committed-state queries a :class:`Standing` needs (a ledger has them)."""

    def denial_count(self, requester: bytes) -> int: ...

    def blacklist_entry(self, member_id: bytes) -> BlacklistEntry | None: ...


@dataclass(frozen=True, slots=True)
class Standing:
    """How close ``member_id`` is to the blacklist, or since when it is on it."""

    member_id: bytes
    denials: int
    denial_limit: int
    blacklisted_height: int | None

    @property
    def blacklisted(self) -> bool:
        return self.blacklisted_height is not None

    @property
    def denials_left(self) -> int:
        """Denials the member may still get before it is blacklisted (0 once it is)."""
        return 0 if self.blacklisted else max(0, self.denial_limit - self.denials)

    def warning(self) -> str | None:
        """A sentence for the member when the blacklist is near or reached, else None."""
        if self.blacklisted:
            return (
                f"blacklisted since block {self.blacklisted_height} after {self.denials} "
                "denied requests; only the authority can lift it (iomtshare authority "
                "unblacklist)"
            )
        if self.denials and self.denials_left <= WARN_WHEN_LEFT:
            plural = "" if self.denials_left == 1 else "s"
            return (
                f"{self.denials} of {self.denial_limit} denials used: {self.denials_left} more "
                f"denied request{plural} and this member is blacklisted"
            )
        return None

    def to_json(self) -> dict[str, object]:
        return {
            "denials": self.denials,
            "denial_limit": self.denial_limit,
            "denials_left": self.denials_left,
            "blacklisted": self.blacklisted,
            "blacklisted_height": self.blacklisted_height,
            "warning": self.warning(),
        }


def standing(source: StandingSource, genesis: Genesis, member_id: bytes) -> Standing:
    """``member_id``'s standing in committed state."""
    entry = source.blacklist_entry(member_id)
    return Standing(
        member_id=member_id,
        denials=source.denial_count(member_id),
        denial_limit=genesis.denial_limit,
        blacklisted_height=None if entry is None else entry.height,
    )


def _count(state: Overlay, key: bytes) -> int:
    raw = state.get(key)
    return 0 if raw is None else Counter.from_bytes(raw).value


def record_denial(state: Overlay, genesis: Genesis, requester: bytes, height: int) -> None:
    """Count one more denial for ``requester``; blacklist it at the genesis limit."""
    key = schema.denials(requester)
    denials = _count(state, key) + 1
    state.put(key, Counter(denials).to_bytes())
    listed = schema.blacklist(requester)
    if denials >= genesis.denial_limit and state.get(listed) is None:
        state.put(listed, BlacklistEntry(requester, height, denials).to_bytes())


def lift(state: Overlay, tx: Unblacklist) -> None:
    """Apply an authority-signed ``tx`` (its signature is the caller's to check): remove the
    blacklisting it names and clear the member's denial count.

    Raises :class:`~ledger.ordering.RuleBroken` if the member is not blacklisted, or was
    blacklisted at another height than ``tx`` names.
    """
    raw = state.get(schema.blacklist(tx.member_id))
    if raw is None:
        raise RuleBroken("member is not blacklisted", state_dependent=True)
    entry = BlacklistEntry.from_bytes(raw)
    if entry.height != tx.blacklisted_height:
        raise RuleBroken(
            f"member was blacklisted at block {entry.height}, not {tx.blacklisted_height}",
            state_dependent=tx.blacklisted_height > entry.height,
        )
    state.put(schema.blacklist(tx.member_id), None)
    state.put(schema.denials(tx.member_id), None)
