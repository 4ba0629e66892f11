"""Requester-side flows: ask for a record, wait for the network's decision, fetch and decrypt
(docs/http-api.md, data flow steps 3 and 5).

A request is a signed AccessRequest with the current time, a fresh 16-byte nonce and the hashes
of the requester's latest attributes; its transaction id is the request id. Both kinds of record
are asked for and fetched the same way; what the granted decision carries differs:

* an owner-grant record: the metadata re-encrypted to this requester (threshold PRE);
* a policy record: the combined domain-key value ``X^p2`` for this requester and request, which
  gives K_pre; the member's attribute key gives K_abe; both open the metadata
  (:mod:`client.policy_records`).

The DEK in the metadata then opens the bulk ciphertext the nodes rebuild from their fragments,
and the file digest is checked. The nodes hand out fragments only for an access token
(:mod:`ledger.access_token`) the requester signs for each fetch, naming the granted decision.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from client.errors import (
    AccessDenied,
    ConnectionFailed,
    IntegrityError,
    NodeError,
    RequestMismatch,
    UnknownRequest,
    WaitTimeout,
)
from client.http import MAX_SERVER_WAIT, NodeClient
from client.keystore import MemberKeys
from client.policy_records import (
    AttributeKeyMismatch,
    PolicyRecordView,
    abe_binding_for,
    is_policy_record,
    network_keys,
    open_pre_part,
    open_with_parts,
    recover_abe,
)
from client.session import RETRY_PAUSE, Session, now_ms
from crypto import aead
from crypto.abe import FameSecretKey
from crypto.dual import setup
from crypto.errors import CryptoError
from crypto.policy.hash_tree import attribute_hash
from crypto.tpre import ReEncryptedCiphertext, decrypt_reencrypted
from ledger.access_token import NONCE_SIZE, AccessToken
from ledger.record_metadata import RecordMetadata, file_digest
from ledger.transactions import AccessRequest

#: Bytes of an AccessRequest's nonce (the ledger encodes it as a fixed 16-byte field).
REQUEST_NONCE_SIZE = 16
DEFAULT_DECISION_TIMEOUT = 60.0
#: How long an access token is good for: it serves one fetch (its nonce is used once), so
#: minutes are plenty.
TOKEN_LIFETIME_MS = 5 * 60_000
#: How long an id the node does not know is asked for again before it is called unknown: a
#: request sent to another node reaches this one by gossip within moments.
UNKNOWN_GRACE = 2.0

#: Hands over the member's FAME attribute key when a policy record needs it (loaded only then).
AttributeKeySource = Callable[[], FameSecretKey]


@dataclass(frozen=True, slots=True)
class Decision:
    """The network's answer to a request (``status`` is ``granted`` or ``denied``)."""

    request_id: str
    status: str
    height: int | None
    reencrypted: bytes
    reason: str
    #: Who asked and for which record (hex; empty while the request is pending).
    requester: str = ""
    record_id: str = ""
    #: The node's warning that the requester is near or on the blacklist ("" when it is not).
    warning: str = ""

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Decision:
        standing = document.get("standing")
        warning = standing.get("warning") if isinstance(standing, dict) else None
        return cls(
            request_id=str(document.get("request_id", "")),
            status=str(document.get("status", "")),
            height=document.get("height"),
            reencrypted=bytes.fromhex(str(document.get("reencrypted_ciphertext") or "")),
            reason=str(document.get("reason") or ""),
            requester=str(document.get("requester") or ""),
            record_id=str(document.get("record_id") or ""),
            warning=str(warning or ""),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "status": self.status,
            "height": self.height,
            "reason": self.reason or None,
            "warning": self.warning or None,
        }


def request_access(
    session: Session,
    requester: MemberKeys,
    record_id: bytes,
    *,
    attributes: tuple[str, ...] | None = None,
) -> str:
    """Submit a fresh, signed AccessRequest; returns the request id (the transaction id).

    ``attributes`` default to the requester's latest attributes on chain; their hashes go into
    the request so that policy records can be checked against them.
    """
    keywords = session.keywords_hash(record_id)
    if attributes is None:
        history = session.client.attributes(requester.member_id.hex())
        try:
            attributes = tuple(str(a) for a in history[-1]["attributes"]) if history else ()
        except (KeyError, TypeError, IndexError) as exc:
            raise IntegrityError(f"malformed attribute answer: {exc!r}") from exc
    tx = AccessRequest(
        requester=requester.member_id,
        record_id=record_id,
        keywords_hash=keywords,
        attribute_hashes=tuple(sorted(attribute_hash(a) for a in attributes)),
        timestamp_ms=now_ms(),
        nonce=secrets.token_bytes(REQUEST_NONCE_SIZE),
    )
    return session.submit(session.sign(tx, requester.signing_key))


def wait_decision(
    session: Session,
    request_id: str,
    timeout: float = DEFAULT_DECISION_TIMEOUT,
    *,
    unknown_grace: float = UNKNOWN_GRACE,
) -> Decision:
    """Long-poll ``GET /requests/{id}`` until the request is decided.

    The node is first asked without waiting: a request it has neither committed nor pending
    raises :class:`UnknownRequest` once ``unknown_grace`` seconds (for gossip from the node it
    was sent to) have passed, instead of a long poll that could only time out; so does a
    pending request that vanishes. Raises :class:`WaitTimeout` if it is still pending after
    ``timeout`` seconds.
    """
    started = time.monotonic()
    deadline = started + timeout
    known = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"request {request_id[:16]}… not decided within {timeout:g} s")
        try:
            answer = session.client.request(
                request_id, wait=min(remaining, MAX_SERVER_WAIT) if known else 0.0
            )
        except NodeError as exc:
            if exc.code != "not_found":
                raise
            if known:
                # Looked at once more without waiting: it may have committed as the poll ended.
                known = False
                continue
            if time.monotonic() - started >= min(unknown_grace, timeout):
                raise UnknownRequest(
                    f"request {request_id} is neither committed nor pending on "
                    f"{session.client.base_url}: check the id (`client request` prints it), "
                    "or ask the node it was sent to"
                ) from exc
            time.sleep(RETRY_PAUSE)
            continue
        except ConnectionFailed:
            if time.monotonic() >= deadline:
                raise
            time.sleep(RETRY_PAUSE)
            continue
        known = True
        decision = Decision.from_json(answer)
        if decision.status in ("granted", "denied"):
            return decision


def check_decision(decision: Decision, requester: MemberKeys, record_id: bytes) -> None:
    """Raise :class:`RequestMismatch` unless ``decision`` answers ``requester``'s request for
    ``record_id`` (only that requester can open the re-encrypted metadata)."""
    mine = requester.member_id.hex()
    if decision.requester and decision.requester != mine:
        raise RequestMismatch(
            f"request {decision.request_id} was made by member {decision.requester}, not by "
            f"this member ({mine}); only its requester can open what it was granted"
        )
    if decision.record_id and decision.record_id != record_id.hex():
        raise RequestMismatch(
            f"request {decision.request_id} is for record {decision.record_id}, "
            f"not for record {record_id.hex()}"
        )


def open_metadata(
    session: Session,
    requester: MemberKeys,
    record_id: bytes,
    decision: Decision,
    attribute_key: AttributeKeySource | None = None,
) -> RecordMetadata:
    """Open the metadata a granted request gives access to, for either kind of record.

    ``attribute_key`` is needed for a policy record only. Raises RequestMismatch (not this
    member's request, or not for this record), AccessDenied (a denied request; its subclass
    :class:`~client.policy_records.AttributeKeyMismatch` for a policy record the member's key
    does not satisfy, or no key source given) or IntegrityError.
    """
    return _open_grant(session, requester, record_id, decision, attribute_key)[0]


def _open_grant(
    session: Session,
    requester: MemberKeys,
    record_id: bytes,
    decision: Decision,
    attribute_key: AttributeKeySource | None,
) -> tuple[RecordMetadata, bytes | None]:
    """:func:`open_metadata`, and the ABE binding a fetch token for the record carries."""
    check_decision(decision, requester, record_id)
    if decision.status != "granted":
        raise AccessDenied(f"request {decision.request_id[:16]}… was {decision.status}: "
                           f"{decision.reason or 'no reason given'}")
    document = session.record(record_id)
    if is_policy_record(document):
        return _open_policy_grant(session, requester, record_id, decision, attribute_key)
    try:
        sealed = ReEncryptedCiphertext.from_bytes(session.group, decision.reencrypted)
        plain = decrypt_reencrypted(requester.tpre_secret, sealed, record_id)
        return RecordMetadata.from_bytes(plain), None
    except CryptoError as exc:
        raise IntegrityError(f"cannot open the re-encrypted metadata: {exc}") from exc


def _open_policy_grant(
    session: Session,
    requester: MemberKeys,
    record_id: bytes,
    decision: Decision,
    attribute_key: AttributeKeySource | None,
) -> tuple[RecordMetadata, bytes | None]:
    if attribute_key is None:
        raise AttributeKeyMismatch(
            "this is a policy record: opening it needs the member's attribute key as well"
        )
    params = setup(session.group)
    record = PolicyRecordView.from_put(session.committed_put(record_id), params)
    try:
        request_id = bytes.fromhex(decision.request_id)
    except ValueError as exc:
        raise IntegrityError(f"malformed request id {decision.request_id!r}") from exc
    pre_part = open_pre_part(
        params, record, session.chain_id, requester.tpre_secret, request_id, decision.reencrypted
    )
    fame = network_keys(session.genesis, session.group).fame
    abe_part = recover_abe(fame, record, attribute_key())
    return open_with_parts(record, pre_part, abe_part), abe_binding_for(record, abe_part)


def access_token(
    session: Session,
    requester: MemberKeys,
    record_id: bytes,
    decision: Decision,
    abe_binding: bytes | None = None,
) -> AccessToken:
    """A fresh access token for one fetch of ``record_id`` under ``decision`` (its request id),
    carrying ``abe_binding`` (a policy record's, from :func:`~client.policy_records.
    abe_binding_for`; ``None`` for an owner-grant record or one without a key check).

    It expires :data:`TOKEN_LIFETIME_MS` from now, or when the requester's grant of the record
    does if that is sooner (nodes refuse a token that outlives the grant; a policy record has
    no grant). Raises :class:`IntegrityError` for a malformed request id.
    """
    try:
        decision_id = bytes.fromhex(decision.request_id)
    except ValueError as exc:
        raise IntegrityError(f"malformed request id {decision.request_id!r}") from exc
    now = now_ms()
    expires = now + TOKEN_LIFETIME_MS
    mine = requester.member_id.hex()
    for grant in session.client.grants(record_id.hex()):
        expiry = grant.get("expiry")
        if grant.get("grantee") == mine and not grant.get("revoked") and isinstance(expiry, int):
            expires = min(expires, expiry)
    try:
        token = AccessToken(
            record_id=record_id,
            requester=requester.member_id,
            decision_id=decision_id,
            expires_at_ms=max(expires, 0),
            abe_binding=abe_binding,
            timestamp_ms=now,
            nonce=secrets.token_bytes(NONCE_SIZE),
        )
    except ValueError as exc:
        raise IntegrityError(f"cannot build the access token: {exc}") from exc
    return token.signed(requester.signing_key, session.chain_id)


def fetch_ciphertext(
    session: Session,
    requester: MemberKeys,
    record_id: bytes,
    decision: Decision,
    *,
    via_edge: NodeClient | None = None,
    abe_binding: bytes | None = None,
) -> bytes:
    """Ask the node for the record's bulk ciphertext with a fresh access token naming
    ``decision`` (and carrying ``abe_binding``, which a policy record with a key check needs:
    :func:`fetch_and_decrypt` makes it). Raises :class:`AccessDenied` when the node refuses it
    (401/403; ``abe_binding_missing`` or ``abe_binding_wrong`` without the right binding).

    With ``via_edge`` the same token goes to that edge instead (``node.edge.fetch_relay``),
    with the two fields an edge needs besides: the requester's verify key and the id of the
    record's PutRecord (read from the session's node)."""
    token = access_token(session, requester, record_id, decision, abe_binding)
    body = token.to_json()
    target, who = session.client, "node"
    if via_edge is not None:
        target, who = via_edge, "edge"
        body["verify_key"] = requester.signing_key.verify_key.raw.hex()
        body["record_tx_id"] = str(session.record(record_id).get("tx_id", ""))
    try:
        return target.fetch_data(record_id, body)
    except NodeError as exc:
        if exc.status in (401, 403):
            raise AccessDenied(f"the {who} refused the data: {exc.message}") from exc
        raise


def fetch_and_decrypt(
    session: Session,
    requester: MemberKeys,
    record_id: bytes,
    decision: Decision,
    attribute_key: AttributeKeySource | None = None,
    *,
    via_edge: NodeClient | None = None,
) -> tuple[bytes, RecordMetadata]:
    """The plaintext of a granted record and its metadata, every check passed.

    ``attribute_key`` as for :func:`open_metadata`. Raises :class:`RequestMismatch` (another
    member's request, or one for another record), :class:`AccessDenied` (denied request, no
    matching attribute key, node refused the data) and :class:`IntegrityError` (metadata,
    AEAD or digest check failed). ``via_edge``: fetch the bulk ciphertext through that edge
    (:func:`fetch_ciphertext`); everything else is asked of the session's node.
    """
    # The attribute key opens the metadata and makes the ABE binding before anything is fetched.
    metadata, binding = _open_grant(session, requester, record_id, decision, attribute_key)
    ciphertext = fetch_ciphertext(
        session, requester, record_id, decision, via_edge=via_edge, abe_binding=binding
    )
    try:
        data = aead.open_sealed(metadata.dek, ciphertext, record_id)
    except CryptoError as exc:
        raise IntegrityError(f"the bulk ciphertext does not open with the DEK: {exc}") from exc
    if file_digest(data) != metadata.file_digest or len(data) != metadata.size:
        raise IntegrityError("the decrypted file does not match the digest in its metadata")
    return data, metadata
