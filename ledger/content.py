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

from crypto.errors import CryptoError
from crypto.groups import Group, load_group
from crypto.sealing import SEAL_OVERHEAD
from crypto.tpre import Grant as TpreGrant
from crypto.tpre import ReKeyShare, UserPublicKey
from ledger.transactions import Grant, KeyUpdate, RegisterMember, member_id_for

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


__all__ = [
    "ContentError",
    "GrantContent",
    "check_box_key",
    "check_grant_keys",
    "check_key_update",
    "check_register_member",
    "check_tpre_key",
    "check_verify_key",
    "grant_content",
    "sealed_share_size",
]
