"""Flows any registered member runs for itself."""

from __future__ import annotations

from typing import Any

from client.keystore import MemberKeys
from client.session import DEFAULT_COMMIT_TIMEOUT, Session, now_ms
from ledger.transactions import KeyUpdate


def publish_tpre_key(
    session: Session,
    keys: MemberKeys,
    *,
    wait: bool = True,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> dict[str, Any]:
    """Publish the member's TPRE public key on chain (a KeyUpdate that keeps its other keys).

    Registration carries only the Ed25519 and X25519 keys; owners read the TPRE key of a
    grantee from the chain, so a member publishes it once after being registered.
    """
    tx = KeyUpdate(
        member_id=keys.member_id,
        new_verify_key=keys.signing_key.verify_key.raw,
        new_box_key=keys.box_key.public_key.raw,
        public_key_material=keys.tpre_public_key.to_bytes(),
        issued_at_ms=now_ms(),
    )
    tx_id = session.submit(session.sign(tx, keys.signing_key))
    out: dict[str, Any] = {"tx_id": tx_id, "member_id": keys.member_id.hex()}
    if wait:
        out["height"] = session.wait_committed(tx_id, timeout).get("height")
    return out
