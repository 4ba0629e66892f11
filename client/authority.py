"""Authority-side flows: admit members and change their attributes (both authority-signed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from client.errors import IntegrityError
from client.keystore import MemberPublic
from client.session import DEFAULT_COMMIT_TIMEOUT, Session, now_ms
from crypto.signing import SigningKey
from ledger.transactions import AttributeChange, MemberRole, RegisterMember


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
    if authority.verify_key.raw != session.genesis.authority_key:
        raise IntegrityError("this key is not the authority named in the node's genesis")
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
    """Replace a member's attribute set (appended to its attribute-change chain)."""
    if authority.verify_key.raw != session.genesis.authority_key:
        raise IntegrityError("this key is not the authority named in the node's genesis")
    tx = AttributeChange(
        member_id=member_id, attributes=tuple(attributes), reason=reason, issued_at_ms=now_ms()
    )
    return _finish(session, session.sign(tx, authority), member_id, wait, timeout)


def _finish(
    session: Session, tx: RegisterMember | AttributeChange, member_id: bytes, wait: bool,
    timeout: float,
) -> dict[str, Any]:
    tx_id = session.submit(tx)
    out: dict[str, Any] = {"tx_id": tx_id, "member_id": member_id.hex()}
    if wait:
        out["height"] = session.wait_committed(tx_id, timeout).get("height")
    return out
