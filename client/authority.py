"""Authority-side flows, all authority-signed: admit members, change their attributes, lift a
blacklisting, deal the domain key again (a new epoch).

Attribute changes and unblacklistings name what they follow (the member's next
attribute-chain position, the height of the blacklisting), read from the node just before
signing (see :mod:`ledger.ordering`): if another change commits in between, the node refuses
this one instead of letting it undo the other, and the command can simply be run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from client.domain_keys import current_domain_keys
from client.errors import IntegrityError
from client.keystore import MemberPublic
from client.session import DEFAULT_COMMIT_TIMEOUT, Session, now_ms
from crypto.dual import DomainSecretKey, SealedDomainShare, deal_domain_key, setup
from crypto.groups import Group
from crypto.signing import SigningKey
from ledger.genesis import DomainKeys, Genesis
from ledger.transactions import (
    AttributeChange,
    MemberRole,
    RegisterMember,
    RotateDomainKey,
    Unblacklist,
)


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
    check_authority(session, authority)
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
    check_authority(session, authority)
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
    check_authority(session, authority)
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


def domain_rotation(
    genesis: Genesis, group: Group, epoch: int, threshold: int, reason: str = ""
) -> RotateDomainKey:
    """An unsigned RotateDomainKey dealing a fresh domain key as ``epoch``, ``threshold``-of-n
    to the genesis nodes (node i's share sealed to its box key).

    The new domain secret (p1, p2) is dropped here once dealt: no one holds it whole afterwards,
    which is the point of dealing it. Raises :class:`~crypto.errors.ThresholdError` for a
    threshold outside 1..n (the ledger further requires at least the network's).
    """
    params = setup(group)
    secret = DomainSecretKey.generate(params)
    dealing, shares = deal_domain_key(params, secret, threshold, genesis.size)
    boxes = [node.box_public_key() for node in genesis.nodes]
    sealed = SealedDomainShare.seal_all(epoch, shares, boxes)
    section = DomainKeys(
        epoch=epoch,
        threshold=threshold,
        public_key=secret.public_key(params).to_bytes(),
        verification_keys=tuple(
            bytes(dealing.verification_key(node.index)) for node in genesis.nodes
        ),
    )
    return RotateDomainKey(
        domain=section,
        sealed_shares=tuple(s.to_bytes() for s in sealed),
        reason=reason,
        issued_at_ms=now_ms(),
    )


def rotate_domain_key(
    session: Session,
    authority: SigningKey,
    *,
    threshold: int | None = None,
    reason: str = "",
    wait: bool = True,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> dict[str, Any]:
    """Deal the domain key again as the epoch after the node's current one (see
    :func:`domain_rotation`; ``threshold`` defaults to the current epoch's).

    Returns ``{"tx_id", "epoch", "threshold", "public_key"}`` (and ``height`` when waited for).
    Raises :class:`IntegrityError` if ``authority`` is not the genesis authority or the node's
    account of the current epoch does not check out (see :mod:`client.domain_keys`), and
    :class:`ValueError` if the network has no domain key.
    """
    check_authority(session, authority)
    genesis = session.genesis
    if genesis.domain is None:
        raise ValueError("this network's genesis deals no domain key, so there is none to rotate")
    current = current_domain_keys(session)
    chosen = current.threshold if threshold is None else threshold
    if not genesis.threshold <= chosen <= genesis.size:
        raise ValueError(
            f"threshold {chosen} is not within {genesis.threshold}..{genesis.size} "
            "(at least the network's)"
        )
    tx = session.sign(
        domain_rotation(genesis, session.group, current.epoch + 1, chosen, reason), authority
    )
    tx_id = session.submit(tx)
    out: dict[str, Any] = {
        "tx_id": tx_id,
        "epoch": tx.domain.epoch,
        "threshold": chosen,
        "public_key": tx.domain.public_key.hex(),
    }
    if wait:
        out["height"] = session.wait_committed(tx_id, timeout).get("height")
    return out


def check_authority(session: Session, authority: SigningKey) -> None:
    """Raise :class:`IntegrityError` unless ``authority`` is the genesis authority."""
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
