"""Order rules: a signed transaction applies only right after the state it was made on.

A transaction's id makes an exact resubmission a duplicate, but a transaction signed and then
held back (by a slow client, a lossy network or a node that sits on it) could otherwise be
submitted after a newer one has committed and silently undo it: an attribute set the authority
has since replaced, a grant the owner has since revoked. So each transaction whose order matters
names its place:

* an AttributeChange names ``seq``, its position on the member's attribute-change chain, which
  must be one past the member's latest link (the registration is link 0);
* a Grant or Revoke names ``version``, which must be one past the latest Grant or Revoke of its
  (record, grantee) pair (0 before the first): grant 1, revoke 2, grant 3, ...

A transaction that names a position already taken can never apply (it is final); one that names
a later position may apply once the transactions before it commit, so its refusal rests on
state (``state_dependent``), as a node behind the chain would see it. An Unblacklist names the
height of the blacklisting it lifts (:mod:`ledger.blacklist`).

Clients read the current position from the node (``GET /members/{id}/attributes``,
``GET /records/{id}/grants``) just before signing.
"""

from __future__ import annotations

from typing import Protocol

from ledger import schema
from ledger.content import ContentError
from ledger.records import GrantEntry, Member, Revocation
from ledger.transactions import AttributeChange, Grant, Revoke


class StateReader(Protocol):
    """Reads committed state plus the writes of the block being applied."""

    def get(self, key: bytes) -> bytes | None: ...


class RuleBroken(ContentError):
    """A transaction refused by a rule of the state transition; ``state_dependent`` as in
    :class:`~ledger.errors.InvalidTransaction`."""


def _out_of_order(what: str, named: int, expected: int) -> RuleBroken:
    when = "already taken" if named < expected else "not reached yet"
    return RuleBroken(
        f"{what} {named} is {when}: the next is {expected} (read the current one and sign again)",
        state_dependent=named > expected,
    )


def check_attribute_seq(member: Member, tx: AttributeChange) -> None:
    """Raise :class:`RuleBroken` unless ``tx`` extends ``member``'s latest attribute link."""
    expected = member.attribute_seq + 1
    if tx.seq != expected:
        raise _out_of_order("attribute chain position", tx.seq, expected)


def pair_version(state: StateReader, record_id: bytes, grantee: bytes) -> int:
    """The version of the latest Grant or Revoke of ``(record_id, grantee)``, 0 if none.

    An active grant and the last revocation are both kept; versions only grow, so the larger
    of the two is the latest (a revoked pair has no grant entry, a re-granted one keeps its old
    revocation entry).
    """
    latest = 0
    raw = state.get(schema.grant(record_id, grantee))
    if raw is not None:
        latest = GrantEntry.from_bytes(raw).version
    raw = state.get(schema.revocation(record_id, grantee))
    if raw is not None:
        latest = max(latest, Revocation.from_bytes(raw).version)
    return latest


def check_pair_version(state: StateReader, tx: Grant | Revoke) -> None:
    """Raise :class:`RuleBroken` unless ``tx`` is the next Grant or Revoke of its pair."""
    expected = pair_version(state, tx.record_id, tx.grantee) + 1
    if tx.version != expected:
        raise _out_of_order(f"{type(tx).__name__.lower()} version", tx.version, expected)
