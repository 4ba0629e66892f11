"""Owner-side flows: store a file as a record, grant and revoke access (docs/http-api.md, data
flow steps 1 and 2).

Storing a file: a fresh data key (DEK) seals the file with XChaCha20-Poly1305 (the record id is
the associated data); the ciphertext is erasure-coded t-of-n with a per-fragment commitment; the
DEK, the file digest and the commitment digest form the metadata, encrypted to the owner's own
TPRE key; a signed PutRecord carries the metadata ciphertext and the commitment; once it is
committed the fragments are posted to the node, which hands fragment i to node i.

:func:`prepare_put` does the local part and :func:`finish_put` the network part, so that the
CLI can save the prepared upload first (:mod:`client.uploads`) and finish it after Ctrl-C.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from client.errors import IntegrityError, NodeError
from client.keystore import MemberKeys
from client.policy_records import parse_policy, policy_parts
from client.session import DEFAULT_COMMIT_TIMEOUT, Session, now_ms
from client.uploads import PendingUpload
from crypto.storage import StorageCommitment
from crypto.tpre import Grant as TpreGrant
from crypto.tpre import encrypt_to_owner, make_grant
from ledger.file_sealing import seal_file
from ledger.record_metadata import keywords_hash
from ledger.transactions import Grant, PutRecord, Revoke

DEFAULT_ACCESS_LIMIT = 100
#: Grants last a year unless the owner says otherwise.
DEFAULT_GRANT_LIFETIME_MS = 365 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """What :func:`put_file` did: ids, the commitment and how many fragments the node took."""

    record_id: bytes
    tx_id: str
    height: int | None
    commitment: StorageCommitment
    fragments_stored: int
    file_digest: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id.hex(),
            "tx_id": self.tx_id,
            "height": self.height,
            "threshold": self.commitment.threshold,
            "fragments": self.commitment.total,
            "fragments_stored": self.fragments_stored,
            "ciphertext_bytes": self.commitment.length,
            "file_digest": self.file_digest.hex(),
        }


class PutStep(enum.Enum):
    """How far :func:`finish_put` got: the PutRecord sent, committed, the fragments stored."""

    SENT = "sent"
    COMMITTED = "committed"
    STORED = "stored"


def prepare_put(
    session: Session,
    owner: MemberKeys,
    data: bytes,
    *,
    name: str = "",
    keywords: Sequence[str] = (),
    access_limit: int = DEFAULT_ACCESS_LIMIT,
    policy: str = "",
    source: str = "",
) -> PendingUpload:
    """Encrypt and erasure-code ``data`` and sign its PutRecord, sending nothing.

    A non-empty ``policy`` makes a policy record (shared by attributes,
    :mod:`client.policy_records`) instead of an owner-grant record; either way the metadata is
    also encrypted to the owner.
    The result is what :func:`client.uploads.save_upload` keeps so that an interrupted put can
    be finished by :func:`finish_put`. Raises :class:`ValueError` for an access limit below 1
    and :class:`~client.policy_records.PolicyRecordError` for a policy that does not parse
    (before anything is encrypted) or a network without the authority's keys.
    """
    if access_limit < 1:
        raise ValueError("access limit must be at least 1")
    parsed = parse_policy(policy) if policy else None
    genesis = session.genesis
    sealed = seal_file(data, name, genesis.threshold, genesis.size)
    record_id, bulk, coded, metadata = sealed.record_id, sealed.bulk, sealed.coded, sealed.metadata
    sealed_metadata = encrypt_to_owner(
        session.group, owner.tpre_public_key, metadata.to_bytes(), record_id
    )
    parts = policy_parts(session, parsed, record_id, owner.member_id, metadata)
    tx = PutRecord(
        record_id=record_id,
        owner=owner.member_id,
        keywords_hash=keywords_hash(tuple(keywords)),
        policy=policy,
        access_limit=access_limit,
        metadata_ciphertext=sealed_metadata.to_bytes(),
        storage_commitments=coded.commitment.to_bytes(),
        abe_ciphertext=parts.abe_ciphertext,
        domain_epoch=parts.domain_epoch,
        domain_ciphertext=parts.domain_ciphertext,
        created_at_ms=now_ms(),
    )
    return PendingUpload(
        put=session.sign(tx, owner.signing_key),
        bulk=bulk,
        file_digest=metadata.file_digest,
        source=source,
    )


def finish_put(
    session: Session,
    upload: PendingUpload,
    *,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
    on_step: Callable[[PutStep], None] = lambda _: None,
) -> StoredRecord:
    """Publish ``upload``'s PutRecord unless it is already committed, wait for the commit, then
    post the fragments; ``on_step`` hears each step as it is done.

    Safe to call again after any interruption: a record already on chain is not sent again, a
    PutRecord still pending from an earlier call is waited for, and nodes keep a fragment they
    already hold. Raises the client's errors (:class:`~client.errors.NodeError` for a refused
    transaction or fragment upload, :class:`~client.errors.WaitTimeout` if the record does not
    commit in time, :class:`~client.errors.IntegrityError` for a damaged saved upload).
    """
    fragments = upload.fragments()
    if not _on_chain(session, upload.record_id):
        try:
            session.submit(upload.put)
        except NodeError as exc:
            if exc.code != "duplicate":  # pending since an earlier, interrupted call
                raise
    on_step(PutStep.SENT)
    committed = session.wait_committed(upload.tx_id, timeout)
    on_step(PutStep.COMMITTED)
    stored = session.client.post_fragments(upload.record_id, [f.to_bytes() for f in fragments])
    on_step(PutStep.STORED)
    return StoredRecord(
        record_id=upload.record_id,
        tx_id=upload.tx_id,
        height=committed.get("height"),
        commitment=upload.commitment(),
        fragments_stored=stored,
        file_digest=upload.file_digest,
    )


def _on_chain(session: Session, record_id: bytes) -> bool:
    try:
        session.client.record(record_id.hex())
    except NodeError as exc:
        if exc.code != "not_found":
            raise
        return False
    return True


def put_file(
    session: Session,
    owner: MemberKeys,
    data: bytes,
    *,
    name: str = "",
    keywords: Sequence[str] = (),
    access_limit: int = DEFAULT_ACCESS_LIMIT,
    policy: str = "",
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> StoredRecord:
    """Encrypt, erasure-code and publish ``data`` as a new record of ``owner`` in one go
    (:func:`prepare_put`, then :func:`finish_put`; nothing is saved to resume from).

    Raises what :func:`finish_put` raises.
    """
    upload = prepare_put(
        session, owner, data, name=name, keywords=keywords, access_limit=access_limit,
        policy=policy,
    )
    return finish_put(session, upload, timeout=timeout)


def grant_fields(grant: TpreGrant) -> tuple[bytes, bytes]:
    """(sealed_rekey_shares, commitments) of the Grant transaction for a TPRE grant.

    The first field holds the whole canonical TPRE grant (owner and grantee keys, F_j and the
    sealed shares), which is what nodes open and verify; the second repeats the F_j (576 bytes
    each) so that explorers can show them without decoding the grant.
    """
    return grant.to_bytes(), b"".join(bytes(f) for f in grant.commitments)


def grant_access(
    session: Session,
    owner: MemberKeys,
    record_id: bytes,
    grantee: bytes,
    *,
    threshold: int | None = None,
    lifetime_ms: int = DEFAULT_GRANT_LIFETIME_MS,
    wait: bool = True,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> dict[str, Any]:
    """Split the owner's re-encryption key to ``grantee`` t-of-n over the genesis nodes.

    The grantee's TPRE key is read from the chain and validated; ``threshold`` defaults to the
    genesis threshold, the least the network accepts (:class:`ValueError` below it). The
    grant's version for (record, grantee) is read from the node just before signing.
    Returns ``{"tx_id", "record_id", "grantee", "version", "threshold", "expires_at_ms"}``
    (and ``height`` when waited for).
    """
    genesis = session.genesis
    t = threshold if threshold is not None else genesis.threshold
    if t < genesis.threshold:  # above n, make_grant says so
        raise ValueError(
            f"threshold {t} is below the network's threshold {genesis.threshold} (a grant "
            "needs at least that many nodes to combine shares)"
        )
    grantee_key = session.member_tpre_key(grantee)
    tpre_grant = make_grant(
        session.group, owner.tpre_secret, grantee_key, session.node_box_keys(), t
    )
    sealed, commitments = grant_fields(tpre_grant)
    version = next_pair_version(session, record_id, grantee)
    issued = now_ms()
    tx = Grant(
        record_id=record_id,
        owner=owner.member_id,
        grantee=grantee,
        version=version,
        threshold=t,
        expires_at_ms=issued + lifetime_ms,
        sealed_rekey_shares=sealed,
        commitments=commitments,
        issued_at_ms=issued,
    )
    tx_id = session.submit(session.sign(tx, owner.signing_key))
    out: dict[str, Any] = {
        "tx_id": tx_id,
        "record_id": record_id.hex(),
        "grantee": grantee.hex(),
        "version": version,
        "threshold": t,
        "expires_at_ms": tx.expires_at_ms,
    }
    if wait:
        out["height"] = session.wait_committed(tx_id, timeout).get("height")
    return out


def revoke_access(
    session: Session,
    owner: MemberKeys,
    record_id: bytes,
    grantee: bytes,
    *,
    wait: bool = True,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> dict[str, Any]:
    """Withdraw ``grantee``'s grant on ``record_id`` (the revoke's version is read from the
    node just before signing, as for :func:`grant_access`)."""
    version = next_pair_version(session, record_id, grantee)
    tx = Revoke(
        record_id=record_id,
        owner=owner.member_id,
        grantee=grantee,
        version=version,
        issued_at_ms=now_ms(),
    )
    tx_id = session.submit(session.sign(tx, owner.signing_key))
    out: dict[str, Any] = {
        "tx_id": tx_id,
        "record_id": record_id.hex(),
        "grantee": grantee.hex(),
        "version": version,
    }
    if wait:
        out["height"] = session.wait_committed(tx_id, timeout).get("height")
    return out


def next_pair_version(session: Session, record_id: bytes, grantee: bytes) -> int:
    """One past the version of the latest Grant or Revoke of ``(record_id, grantee)`` on the
    node's chain (1 for the first); see :mod:`ledger.ordering`.

    Raises :class:`IntegrityError` for a malformed answer.
    """
    latest = 0
    for entry in session.client.grants(record_id.hex()):
        try:
            if entry["grantee"] != grantee.hex():
                continue
            version = entry["version"]
        except (KeyError, TypeError) as exc:
            raise IntegrityError(f"malformed grants answer: {exc!r}") from exc
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise IntegrityError(f"malformed grant version {version!r}")
        latest = max(latest, version)
    return latest + 1
