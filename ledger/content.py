"""Content checks: what the keys and grants inside a transaction must be, beyond their encoding.

The transaction encoding only fixes field sizes; these checks say what the bytes must mean:

* RegisterMember: the member id is the hash of the member's Ed25519 key
  (:func:`~ledger.transactions.member_id_for`), the Ed25519 key is a valid point of the prime
  order subgroup, the X25519 key has no small order (a box sealed to such a key is readable by
  anyone).
* KeyUpdate: the same for the new keys, and the published TPRE key (DESIGN 3.2), when present,
  decodes into valid group elements with e(X1, g2) = e(g1, X2) and e(W, X2) = Z.
* Grant: the grant field holds a canonical TPRE grant for this network: one sealed re-key share
  per genesis node, each exactly the size of a sealed share, t - 1 commitments F_j for the
  transaction's threshold t, and the commitments field repeats those F_j; the owner and grantee
  keys embedded in it are the keys they published on chain (checked against state by
  :func:`check_grant_keys`).
* PutRecord (:func:`check_put_record`): an owner-grant record (no policy) carries no ABE or
  domain ciphertext; a policy record needs a network whose genesis deals a domain key, a policy
  that parses, a FAME header (a :class:`~crypto.abe.dual.DualRecord`) for this record id under
  that same policy (its key check, when it has one, a well-formed hash: 32 bytes, not all zero;
  whether it is the hash of the record's ABE binding nobody can tell without K_abe, so a wrong
  one only makes the record unfetchable for every requester), and K_pre encrypted to the
  current domain epoch with a proof of knowledge of its randomness bound to this record, owner
  and chain. The proof is what stops an owner from
  publishing a C1 scaled from another record's and having the nodes decrypt that one (issue 13).
  A record an edge submits for a device is checked the same way (the device made C1 and its
  proof for the owner's record); what else such a record must satisfy is in
  :func:`ledger.devices.record_edge`.

The state transition runs them on every transaction it applies, so a block carrying bad content
is invalid whoever proposed it, and admission reports them through its dry run. Every check is
deterministic (decoding and pairing equalities give the same answer on both pairing backends).
Pairings cost milliseconds, and the node dry-runs a pending transaction again after each block,
so the outcome of the stateless part is remembered per transaction id.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import cache

from nacl.bindings import crypto_core_ed25519_is_valid_point, crypto_scalarmult
from nacl.exceptions import CryptoError as NaclCryptoError

from crypto.abe.dual import DualRecord
from crypto.dual import NormalizedCiphertext, ProofContext, setup, verify_ciphertext
from crypto.errors import CryptoError
from crypto.groups import Group, load_group
from crypto.policy import PolicyError, parse
from crypto.sealing import SEAL_OVERHEAD
from crypto.tpre import Grant as TpreGrant
from crypto.tpre import ReKeyShare, UserPublicKey
from ledger.genesis import DomainKeys
from ledger.records import RecordEntry
from ledger.transactions import Grant, KeyUpdate, PutRecord, RegisterMember, member_id_for

#: How many transaction ids whose stateless checks passed are remembered.
_MEMORY = 4096
#: Any clamped scalar works: X25519 multiplies by a multiple of 8, so the product is the
#: all-zero point (which libsodium refuses) exactly when the input point has small order.
_PROBE_SCALAR = bytes(range(1, 33))


class ContentError(Exception):
    """A transaction whose content is refused; ``state_dependent`` as in
    :class:`~ledger.errors.InvalidTransaction`."""

    def __init__(self, reason: str, *, state_dependent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.state_dependent = state_dependent


@dataclass(frozen=True, slots=True)
class GrantContent:
    """The parts of a checked grant that must still match the state: the embedded keys."""

    owner_key: bytes
    grantee_key: bytes


@cache
def _group() -> Group:
    return load_group()


@cache
def sealed_share_size() -> int:
    """The size of one sealed re-key share (a :class:`ReKeyShare` in an X25519 sealed box)."""
    group = _group()
    return len(ReKeyShare(1, group.g2).to_bytes()) + SEAL_OVERHEAD


class _Memory:
    """A bounded map from (transaction id, network size) to the outcome of checks that passed."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[bytes, int], GrantContent | bool] = OrderedDict()

    def get(self, key: tuple[bytes, int]) -> GrantContent | bool | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: tuple[bytes, int], value: GrantContent | bool) -> None:
        self._items[key] = value
        while len(self._items) > self._size:
            self._items.popitem(last=False)


_passed = _Memory(_MEMORY)


def check_verify_key(raw: bytes, what: str) -> None:
    """Refuse an Ed25519 key that is not a canonical point of the prime-order subgroup."""
    if len(raw) != 32 or not crypto_core_ed25519_is_valid_point(raw):
        raise ContentError(f"{what} is not a valid Ed25519 public key")


def check_box_key(raw: bytes, what: str) -> None:
    """Refuse an X25519 key of small order."""
    try:
        crypto_scalarmult(_PROBE_SCALAR, raw)
    except NaclCryptoError as exc:
        raise ContentError(f"{what} is not a usable X25519 public key") from exc


def check_tpre_key(material: bytes) -> None:
    """Refuse TPRE key material that is not a valid :class:`UserPublicKey`."""
    group = _group()
    try:
        UserPublicKey.from_bytes(group, material).validate(group)
    except CryptoError as exc:
        raise ContentError(f"invalid TPRE public key: {exc}") from exc


def check_register_member(tx: RegisterMember) -> None:
    """The member id is the hash of its key; both keys are usable. Raises ContentError."""
    if tx.member_id != member_id_for(tx.verify_key):
        raise ContentError("member id is not the hash of the member's verify key")
    check_verify_key(tx.verify_key, "verify key")
    check_box_key(tx.box_key, "box key")


def check_key_update(tx: KeyUpdate, tx_id: bytes) -> None:
    """The new keys are usable and the TPRE key (if any) is valid. Raises ContentError."""
    key = (tx_id, 0)
    if _passed.get(key) is True:
        return
    check_verify_key(tx.new_verify_key, "new verify key")
    check_box_key(tx.new_box_key, "new box key")
    if tx.public_key_material:
        check_tpre_key(tx.public_key_material)
    _passed.put(key, True)


def grant_content(tx: Grant, tx_id: bytes, node_count: int) -> GrantContent:
    """Check ``tx``'s TPRE grant against the network of ``node_count`` nodes.

    Returns the embedded keys for :func:`check_grant_keys`; raises :class:`ContentError`.
    """
    key = (tx_id, node_count)
    known = _passed.get(key)
    if isinstance(known, GrantContent):
        return known
    try:
        grant = TpreGrant.from_bytes(_group(), tx.sealed_rekey_shares)
    except CryptoError as exc:
        raise ContentError(f"re-key shares are not a TPRE grant: {exc}") from exc
    if grant.threshold != tx.threshold:
        raise ContentError(f"TPRE grant threshold {grant.threshold}, transaction {tx.threshold}")
    if grant.node_count != node_count:
        raise ContentError(f"{grant.node_count} sealed re-key shares for {node_count} nodes")
    size = sealed_share_size()
    for index, sealed in enumerate(grant.sealed_shares, start=1):
        if len(sealed) != size:
            raise ContentError(f"sealed re-key share {index} is {len(sealed)} bytes, not {size}")
    if tx.commitments != b"".join(bytes(f) for f in grant.commitments):
        raise ContentError("commitments field does not repeat the TPRE grant's F_j")
    content = GrantContent(grant.owner.to_bytes(), grant.requester.to_bytes())
    _passed.put(key, content)
    return content


def check_grant_keys(content: GrantContent, owner_key: bytes, grantee_key: bytes) -> None:
    """The grant embeds the TPRE keys the owner and the grantee published on chain.

    ``owner_key``/``grantee_key`` are the members' published key material (empty when none was
    published). Byte equality suffices: published keys were validated by their KeyUpdate.
    """
    if not owner_key or content.owner_key != owner_key:
        raise ContentError(
            "grant's owner key is not the TPRE key the owner published", state_dependent=True
        )
    if not grantee_key or content.grantee_key != grantee_key:
        raise ContentError(
            "grant's grantee key is not the TPRE key the grantee published",
            state_dependent=True,
        )


def check_put_record(tx: PutRecord, tx_id: bytes, chain_id: str, domain: DomainKeys | None) -> None:
    """Check a record's sharing content against the current domain key ``domain`` (``None``
    when the network has none). Raises :class:`ContentError`."""
    if not tx.policy:
        if tx.abe_ciphertext or tx.domain_ciphertext or tx.domain_epoch:
            raise ContentError(
                "a record without a policy is shared by Grant and carries no ABE or domain "
                "ciphertext (and domain epoch 0)"
            )
        return
    if domain is None:
        raise ContentError(
            "policy records need a network whose genesis deals a domain key and a FAME public "
            "key; this one has none (put the record without a policy and share it by Grant)"
        )
    if tx.domain_epoch != domain.epoch:
        raise ContentError(
            f"record is encrypted to domain epoch {tx.domain_epoch}, the current epoch is "
            f"{domain.epoch}",
            state_dependent=tx.domain_epoch > domain.epoch,
        )
    key = (tx_id, domain.epoch)
    if _passed.get(key) is True:
        return
    try:
        policy = parse(tx.policy)
    except PolicyError as exc:
        raise ContentError(f"record policy does not parse: {exc}") from exc
    group = _group()
    try:
        sealed = DualRecord.from_bytes(tx.abe_ciphertext, group)
    except CryptoError as exc:
        raise ContentError(f"abe_ciphertext is not a dual record: {exc}") from exc
    if sealed.record_id != tx.record_id:
        raise ContentError("abe_ciphertext is sealed for another record id")
    if sealed.header.policy.to_bytes() != policy.to_bytes():
        raise ContentError("abe_ciphertext is encrypted under another policy than the record's")
    if tx.device_id and sealed.key_check is None:
        raise ContentError(
            "a device record's abe_ciphertext must carry a key check (dual record version 3), "
            "which requesters' fetch tokens are checked against"
        )
    if sealed.key_check is not None and not any(sealed.key_check):
        raise ContentError("abe_ciphertext's key check is all zero bytes, not a hash")
    check_domain_ciphertext(tx.domain_ciphertext, tx.record_id, tx.owner, chain_id)
    _passed.put(key, True)


def check_domain_ciphertext(raw: bytes, record_id: bytes, owner: bytes, chain_id: str) -> None:
    """``raw`` decodes as a domain ciphertext whose C1 proof holds for this record, owner and
    chain; raises :class:`ContentError`."""
    params = setup(_group())
    try:
        ciphertext = NormalizedCiphertext.from_bytes(params, raw)
        verify_ciphertext(params, ciphertext, record_context(record_id, owner, chain_id))
    except CryptoError as exc:
        raise ContentError(f"domain_ciphertext refused: {exc}") from exc


def record_context(record_id: bytes, owner: bytes, chain_id: str) -> ProofContext:
    """What a record's domain ciphertext proof is bound to: the record, its owner, the chain."""
    return ProofContext(record_id, owner, chain_id.encode("utf-8"))


def check_grant_record(entry: RecordEntry) -> None:
    """A Grant may name only an owner-grant record: a policy record is shared by its policy."""
    if entry.policy:
        raise ContentError(
            "the record has a policy and is shared by it; a Grant cannot name a policy record"
        )


__all__ = [
    "ContentError",
    "GrantContent",
    "check_box_key",
    "check_domain_ciphertext",
    "check_grant_keys",
    "check_grant_record",
    "check_key_update",
    "check_put_record",
    "check_register_member",
    "check_tpre_key",
    "check_verify_key",
    "grant_content",
    "record_context",
    "sealed_share_size",
]
