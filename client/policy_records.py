"""Policy records: the dual key of the attribute-based sharing path, owner and requester side.

A policy record's metadata (:class:`~ledger.record_metadata.RecordMetadata`, which holds the
bulk DEK) is sealed under ``HKDF(record id, K_pre, K_abe)`` (:mod:`crypto.abe.dual`):

* ``K_abe`` is the secret of a FAME header under the record's policy: ``abe_ciphertext``.
* ``K_pre`` is encrypted to the network's domain key of the current epoch, with a proof that
  the owner knew its randomness, bound to (record id, owner, chain id): ``domain_ciphertext``.

A requester needs both halves. The nodes approve a request only for a member whose latest
attributes satisfy the policy, and then each approving node raises the committed record's
``C1`` for this requester with its share of the domain key; the leader combines t of them into
``X^p2`` (the decision's combined value), which only this requester turns into ``K_pre``
(:func:`crypto.dual.requester_decrypt`). ``K_abe`` comes from the member's own attribute key.
Either half alone opens nothing: :class:`AttributeKeyMismatch` (approval without a matching
key) and :class:`~client.errors.AccessDenied` (a key without approval) are the typed outcomes.

The nodes serve a policy record's bulk data only for a fetch token carrying the record's ABE
binding ``H(record id, K_abe)`` (:func:`abe_binding_for`), which a member can make only after
recovering ``K_abe``; a record sealed before key checks (dual record version 2) takes none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.attribute_keys import AttributeKeyError, NoPublishedKey, fetch_attribute_key
from client.domain_keys import current_domain_key
from client.errors import AccessDenied, ClientError, IntegrityError
from client.keystore import MemberKeys, load_attribute_key
from client.session import Session
from crypto.abe import (
    DualRecord,
    FamePublicKey,
    FameSecretKey,
    UnsatisfiedPolicyError,
    abe_binding,
    open_record,
    recover_abe_part,
)
from crypto.abe.dual import binding_matches
from crypto.dual import (
    DecryptionRequest,
    DualParams,
    NormalizedCiphertext,
    ProofContext,
    requester_decrypt,
    setup,
    verify_ciphertext,
)
from crypto.errors import CryptoError
from crypto.groups import G2Element, Group
from crypto.light.bridge import seal_for_domain
from crypto.policy import Policy, PolicyError, parse
from crypto.signing import VerifyKey
from crypto.tpre import UserSecretKey
from ledger.authority_keys import authority_keys
from ledger.content import record_context
from ledger.genesis import Genesis, GenesisError
from ledger.record_metadata import RecordMetadata
from ledger.transactions import PutRecord


class PolicyRecordError(ClientError):
    """A policy record cannot be made here: the network has no authority keys (FAME public
    key, domain key), or the policy text does not parse (``str()`` shows where)."""


class AttributeKeyMismatch(AccessDenied):
    """The network approved the request, but this member's attribute key does not satisfy the
    record's policy (a stale key, or one issued for other attributes): nothing is decrypted."""


@dataclass(frozen=True, slots=True)
class DomainKey:
    """The network's domain public key ``gamma2^p2`` of ``epoch`` (where K_pre is encrypted)."""

    epoch: int
    public_key: G2Element


@dataclass(frozen=True, slots=True)
class NetworkKeys:
    """The network's FAME public key and current domain key (what a policy record is sealed
    under; requesters need the FAME key to recover K_abe)."""

    fame: FamePublicKey
    domain: DomainKey


@dataclass(frozen=True, slots=True)
class PolicyParts:
    """The PutRecord fields of a policy record (empty for an owner-grant record)."""

    abe_ciphertext: bytes = b""
    domain_epoch: int = 0
    domain_ciphertext: bytes = b""


def parse_policy(text: str) -> Policy:
    """The parsed policy; raises :class:`PolicyRecordError` whose message shows the position
    of the problem under the text (from :class:`~crypto.policy.PolicyError`)."""
    try:
        return parse(text)
    except PolicyError as exc:
        raise PolicyRecordError(f"invalid policy: {exc}") from exc


def network_keys(genesis: Genesis, group: Group) -> NetworkKeys:
    """The FAME public key and the genesis epoch's domain key of the network of ``genesis``
    (rotations move the current epoch on chain: :mod:`client.domain_keys`).

    Raises :class:`PolicyRecordError` if the genesis has no authority keys (assembled without
    the key ceremony) or they do not decode.
    """
    try:
        keys = authority_keys(genesis, group)
    except GenesisError as exc:
        raise PolicyRecordError(f"the network's authority keys are unusable: {exc}") from exc
    if keys is None:
        raise PolicyRecordError(
            "this network has no FAME public key or domain key (its genesis was assembled "
            "without the authority's key ceremony), so it cannot take policy records"
        )
    return NetworkKeys(keys.fame, DomainKey(keys.epoch, keys.dealing.public_key))


def seal_policy_parts(
    params: DualParams,
    keys: NetworkKeys,
    policy: Policy,
    context: ProofContext,
    metadata: RecordMetadata,
) -> PolicyParts:
    """Seal ``metadata`` under the dual key of a new policy record.

    ``context`` names the record and its owner (:func:`record_context`). K_pre is encrypted to
    the domain key here and then dropped; nothing secret is returned.
    """
    sealed = seal_for_domain(
        params, keys.fame, keys.domain.public_key, policy, context, metadata.to_bytes()
    )
    return PolicyParts(sealed.dual.to_bytes(), keys.domain.epoch, sealed.domain.to_bytes())


def policy_parts(
    session: Session,
    policy: Policy | None,
    record_id: bytes,
    owner: bytes,
    metadata: RecordMetadata,
) -> PolicyParts:
    """The PutRecord fields for ``metadata`` of a new record: sealed under ``policy`` with the
    network's keys, or empty for an owner-grant record (``policy`` None).

    Raises :class:`PolicyRecordError` if the network has no authority keys and
    :class:`IntegrityError` if the node's current domain key does not check out.
    """
    if policy is None:
        return PolicyParts()
    # First: a network without the authority's keys is refused with the clearest reason.
    fame = network_keys(session.genesis, session.group).fame
    # Nodes take new records only under the current epoch, which rotations move on chain.
    epoch, domain_public = current_domain_key(session)
    keys = NetworkKeys(fame, DomainKey(epoch, domain_public))
    context = record_context(record_id, owner, session.chain_id)
    return seal_policy_parts(setup(session.group), keys, policy, context, metadata)


@dataclass(frozen=True, slots=True)
class PolicyRecordView:
    """A committed policy record's two halves, decoded (from its PutRecord)."""

    record_id: bytes
    owner: bytes
    policy: str
    dual: DualRecord
    domain: NormalizedCiphertext

    @classmethod
    def from_put(cls, tx: PutRecord, params: DualParams) -> PolicyRecordView:
        """Decode the halves of ``tx``; raises :class:`IntegrityError` if they do not decode or
        the record is not a policy record."""
        if not tx.policy or not tx.abe_ciphertext or not tx.domain_ciphertext:
            raise IntegrityError(f"record {tx.record_id.hex()[:16]}… is not a policy record")
        try:
            dual = DualRecord.from_bytes(tx.abe_ciphertext, params.group)
            domain = NormalizedCiphertext.from_bytes(params, tx.domain_ciphertext)
        except CryptoError as exc:
            raise IntegrityError(f"the record's ciphertexts do not decode: {exc}") from exc
        if dual.record_id != tx.record_id:
            raise IntegrityError("the record's ABE ciphertext names another record")
        return cls(tx.record_id, tx.owner, tx.policy, dual, domain)


def is_policy_record(document: dict[str, Any]) -> bool:
    """Whether the node's record answer is a policy record (a non-empty policy)."""
    return bool(document.get("policy"))


def open_pre_part(
    params: DualParams,
    record: PolicyRecordView,
    chain_id: str,
    requester: UserSecretKey,
    request_id: bytes,
    combined: bytes,
) -> bytes:
    """K_pre from the combined value ``X^p2`` of a granted request.

    The domain ciphertext is verified here against the record's own context (the node did the
    same before answering), so a ciphertext the node swapped is refused before any use.
    Raises :class:`IntegrityError` for a ciphertext whose proof fails or a combined value that
    was not made for this requester and request.
    """
    context = record_context(record.record_id, record.owner, chain_id)
    try:
        verified = verify_ciphertext(params, record.domain, context)
        value = params.group.gt_from_bytes(combined)
        request = DecryptionRequest(params, verified, requester.public_key().x1, request_id)
        return requester_decrypt(params, requester.scalar, request, value, record.record_id)
    except CryptoError as exc:
        raise IntegrityError(f"cannot open the record's domain half: {exc}") from exc


def recover_abe(fame: FamePublicKey, record: PolicyRecordView, key: FameSecretKey) -> bytes:
    """K_abe of ``record`` with the member's attribute key (the FAME decryption).

    Raises :class:`AttributeKeyMismatch` if the key's attributes do not satisfy the policy.
    """
    try:
        return recover_abe_part(fame, key, record.dual)
    except UnsatisfiedPolicyError as exc:
        raise AttributeKeyMismatch(
            f"this member's attribute key ({', '.join(sorted(key.attributes))}) does not "
            f"satisfy the record's policy {record.policy!r}; ask the authority for a key for "
            "your current attributes (`iomtshare authority issue-keys`)"
        ) from exc


def abe_binding_for(record: PolicyRecordView, abe_part: bytes) -> bytes | None:
    """The ``abe_binding`` a fetch token for ``record`` carries, from its ``K_abe``: ``None``
    for a record without a key check (version 2). Raises :class:`IntegrityError` if the
    binding does not match the record's key check (a record sealed with a wrong check: every
    node would refuse the fetch)."""
    check = record.dual.key_check
    if check is None:
        return None
    binding = abe_binding(record.record_id, abe_part)
    if not binding_matches(check, binding):
        raise IntegrityError(
            "the record's key check does not match H(record id, K_abe): the nodes will refuse "
            "every fetch of it"
        )
    return binding


def open_with_parts(record: PolicyRecordView, pre_part: bytes, abe_part: bytes) -> RecordMetadata:
    """The record's metadata from both halves; raises :class:`IntegrityError` if the dual
    record does not open (a wrong half) or its content does not decode."""
    try:
        return RecordMetadata.from_bytes(open_record(record.dual, pre_part, abe_part))
    except CryptoError as exc:
        raise IntegrityError(
            f"the record's metadata does not open with both halves: {exc}"
        ) from exc


def open_policy_metadata(
    fame: FamePublicKey, record: PolicyRecordView, attribute_key: FameSecretKey, pre_part: bytes
) -> RecordMetadata:
    """The record's metadata from K_pre and the member's attribute key
    (:func:`recover_abe`, then :func:`open_with_parts`, raising what they raise)."""
    return open_with_parts(record, pre_part, recover_abe(fame, record, attribute_key))


def member_attribute_key(
    session: Session, keys: MemberKeys, directory: str | Path
) -> FameSecretKey:
    """The member's FAME attribute key: the latest one the authority published on chain
    (:func:`~client.attribute_keys.fetch_attribute_key`, checked there), or, when none is
    published, the copy in the member's ``attribute_key`` file, checked here the same way
    (this member's, this chain's, signed by the genesis authority). Either must open with the
    member's box key.

    Raises :class:`~client.errors.KeyStoreError` (no key anywhere, a malformed file) and
    :class:`~client.attribute_keys.AttributeKeyError` (another member's or chain's key, not
    the authority's, does not open).
    """
    try:
        published = fetch_attribute_key(session, keys.member_id)
    except NoPublishedKey:
        issued, key = load_attribute_key(directory, keys, session.group)
        if issued.chain_id != session.chain_id:
            raise AttributeKeyError(
                f"the attribute key was issued on chain {issued.chain_id!r}, not on "
                f"{session.chain_id!r}"
            ) from None
        issued.verify(VerifyKey(session.genesis.authority_key))
        return key
    return published.open(keys.box_key, session.group)


def key_warning(
    session: Session, keys: MemberKeys, directory: str | Path, record_id: bytes
) -> str:
    """Why this member's attribute key could not open ``record_id`` even if the nodes grant it
    ("" when it could, or the record is an owner-grant record): said before a request is sent,
    since a granted request counts against the access limit whether or not it can be opened.
    """
    document = session.record(record_id)
    if not is_policy_record(document):
        return ""
    policy = str(document["policy"])
    try:
        key = member_attribute_key(session, keys, directory)
    except ClientError as exc:
        return f"this member has no usable attribute key ({exc}), so a grant opens nothing"
    if parse_policy(policy).satisfied_by(key.attributes):
        return ""
    return (
        f"this member's attribute key ({', '.join(sorted(key.attributes))}) does not satisfy the "
        f"record's policy {policy!r}: a grant would open nothing until the authority issues a "
        "key for the current attributes"
    )
