"""Authority-side flows, all authority-signed: admit members, change their attributes, lift a
blacklisting.

Attribute changes and unblacklistings name what they follow (the member's next
attribute-chain position, the height of the blacklisting), read from the node just before
signing (see :mod:`ledger.ordering`): if another change commits in between, the node refuses
this one instead of letting it undo the other, and the command can simply be run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from client.errors import IntegrityError
from client.keystore import MemberPublic
from client.session import DEFAULT_COMMIT_TIMEOUT, Session, now_ms
from crypto.signing import SigningKey
from ledger.transactions import AttributeChange, MemberRole, RegisterMember, Unblacklist


def register_member(
    session: Session,
    authority: SigningKey,
    member: MemberPublic,
    *,
    role: MemberRole | None = None,
    attributes: Sequence[str] = (),
    wait: bool = True,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> dict[str, Any]:
    """Submit a RegisterMember for ``member`` and (by default) wait for its commit.

    Returns ``{"tx_id", "member_id"}`` plus the committed ``height`` when waited for. Raises
    :class:`IntegrityError` if ``authority`` is not the genesis authority (the node would refuse
    the transaction only when building a block, which looks like a stall from here).
    """
    _check_authority(session, authority)
    tx = RegisterMember(
        member_id=member.member_id,
        verify_key=member.verify_key,
        box_key=member.box_key,
        role=int(role if role is not None else member.role),
        attributes=tuple(attributes),
        registered_at_ms=now_ms(),
    )
    return _finish(session, session.sign(tx, authority), member.member_id, wait, timeout)


def change_attributes(
    session: Session,
    authority: SigningKey,
    member_id: bytes,
    attributes: Sequence[str],
    *,
    reason: str = "",
    wait: bool = True,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> dict[str, Any]:
    """Replace a member's attribute set (appended to its attribute-change chain, at the
    position after the chain's latest link as the node reports it)."""
    _check_authority(session, authority)
    tx = AttributeChange(
        member_id=member_id,
        seq=_next_attribute_seq(session, member_id),
        attributes=tuple(attributes),
        reason=reason,
        issued_at_ms=now_ms(),
    )
    return _finish(session, session.sign(tx, authority), member_id, wait, timeout)


def unblacklist_member(
    session: Session,
    authority: SigningKey,
    member_id: bytes,
    *,
    reason: str = "",
    wait: bool = True,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> dict[str, Any]:
    """Lift ``member_id``'s blacklisting: its denial count starts again from zero, and the
    unblacklisting goes on the sharing-audit chain with ``reason`` in the transaction.

    Returns ``{"tx_id", "member_id", "blacklisted_height"}`` (and ``height`` when waited
    for). Raises :class:`ValueError` if the member is not blacklisted.
    """
    _check_authority(session, authority)
    answer = session.client.member(member_id.hex())
    try:
        height = answer["standing"]["blacklisted_height"]
    except (KeyError, TypeError) as exc:
        raise IntegrityError(f"the node's member answer has no standing: {exc!r}") from exc
    if height is None:
        raise ValueError(f"member {member_id.hex()} is not blacklisted")
    if not isinstance(height, int) or isinstance(height, bool) or height < 1:
        raise IntegrityError(f"the node's member answer has a malformed height {height!r}")
    tx = Unblacklist(
        member_id=member_id, blacklisted_height=height, reason=reason, issued_at_ms=now_ms()
    )
    out = _finish(session, session.sign(tx, authority), member_id, wait, timeout)
    out["blacklisted_height"] = height
    return out


def _check_authority(session: Session, authority: SigningKey) -> None:
    if authority.verify_key.raw != session.genesis.authority_key:
        raise IntegrityError("this key is not the authority named in the node's genesis")


def _next_attribute_seq(session: Session, member_id: bytes) -> int:
    """One past the chain position of the member's latest attribute link."""
    history = session.client.attributes(member_id.hex())
    try:
        latest = history[-1]["seq"]
    except (IndexError, KeyError, TypeError) as exc:
        raise IntegrityError(f"malformed attribute history answer: {exc!r}") from exc
    if not isinstance(latest, int) or isinstance(latest, bool) or latest < 0:
        raise IntegrityError(f"malformed attribute chain position {latest!r}")
    return latest + 1


def _finish(
    session: Session, tx: RegisterMember | AttributeChange | Unblacklist, member_id: bytes,
    wait: bool, timeout: float,
) -> dict[str, Any]:
    tx_id = session.submit(tx)
    out: dict[str, Any] = {"tx_id": tx_id, "member_id": member_id.hex()}
    if wait:
        out["height"] = session.wait_committed(tx_id, timeout).get("height")
    return out
