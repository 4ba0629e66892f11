"""The authority's state on chain beyond members: published attribute keys and domain-key epochs.

Attribute keys (:class:`~ledger.transactions.PublishAttributeKey`): the authority publishes a
member's FAME key, sealed to the member's box key, for the member's current link of the
attribute-change chain. The ledger keeps the latest per member (:class:`AttributeKeyEntry`,
``GET /members/{id}/attribute-key``); a key for a link that is not the member's head is refused
(an older link can never apply again; a later one may once its attribute change commits), so a
key held back and published after an attribute change cannot stand in for the newer one.

Domain-key epochs (:class:`~ledger.transactions.RotateDomainKey`, seed 000's ReKeyUpdate): the
genesis deals epoch 0; each rotation deals a fresh ``p2`` as the next epoch, with its public key,
threshold and ``VK_i`` checked like a genesis' (:func:`ledger.authority_keys.check_domain_keys`),
and node i's new share sealed to its box key. Every epoch stays on chain (:class:`DomainEpoch`):
a record names the epoch its K_pre was encrypted under and is served with that epoch's shares
for good, so records put before a rotation stay readable without re-encrypting anything; only
new records must use the current epoch (checked with the PutRecord's content).

Why the new shares travel on chain, sealed: every node receives its share through consensus, in
the same block everywhere, and a node that was down finds it when it catches up; no second
channel from the authority to the nodes is needed, and a rotation is audited like every other
authority act. The price: the sealed shares stay in every copy of the chain, so whoever later
learns a node's box key opens that node's share of every epoch dealt while the key was in use
(the genesis keeps the epoch-0 shares out of the chain for this reason, as files in the node
homes). A rotation therefore protects against shares that leaked from a node's memory or disk,
not against a stolen box key; after a box key leaks, the node's key must change before the next
rotation. What a rotation does not revoke: anyone who holds t shares of an old epoch still reads
the records of that epoch, since those records keep it.

The ledger checks the public parts; it cannot open a sealed share (only its node can), so a
share that does not match its ``VK_i`` is found by that node alone (:mod:`node.domain_share`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from crypto import tags
from crypto.codec import Reader
from crypto.dual import SealedDomainShare
from crypto.errors import DecodeError
from crypto.groups import load_group
from ledger import schema
from ledger.authority_keys import check_domain_keys
from ledger.encoding import BLOB, HASH, U32, U64, Encoded, nested, sequence
from ledger.genesis import DomainKeys, Genesis, GenesisError
from ledger.ordering import RuleBroken
from ledger.records import Counter, Member
from ledger.transactions import PublishAttributeKey, RotateDomainKey

#: The encoding version of :class:`client.attribute_keys.IssuedAttributeKey` whose leading
#: fields :func:`check_attribute_key` reads (the ledger does not import the client).
ISSUED_KEY_VERSION = 1
TAG_ATTRIBUTE_KEY_ENTRY = tags.LEDGER_ATTRIBUTE_KEY_ENTRY
TAG_DOMAIN_EPOCH = tags.LEDGER_DOMAIN_EPOCH


class StateReader(Protocol):
    """Reads committed state (plus the writes of the block being applied)."""

    def get(self, key: bytes) -> bytes | None: ...


class Overlay(StateReader, Protocol):
    """State reads and writes of the block being applied (``None`` deletes)."""

    def put(self, key: bytes, value: bytes | None) -> None: ...


@dataclass(frozen=True, slots=True)
class AttributeKeyEntry(Encoded):
    """The latest attribute key published for ``member_id`` (a :class:`PublishAttributeKey`'s
    fields without the signature) and where it was committed."""

    member_id: bytes
    attribute_seq: int
    attribute_head: bytes
    issued_key: bytes
    issued_at_ms: int
    height: int
    tx_id: bytes

    TAG = TAG_ATTRIBUTE_KEY_ENTRY
    FIELDS = (
        ("member_id", HASH),
        ("attribute_seq", U32),
        ("attribute_head", HASH),
        ("issued_key", BLOB),
        ("issued_at_ms", U64),
        ("height", U64),
        ("tx_id", HASH),
    )


@dataclass(frozen=True, slots=True)
class DomainEpoch(Encoded):
    """A domain-key epoch dealt on chain by a :class:`RotateDomainKey` at ``height``."""

    domain: DomainKeys
    sealed_shares: tuple[bytes, ...]
    height: int
    tx_id: bytes

    TAG = TAG_DOMAIN_EPOCH
    FIELDS = (
        ("domain", nested(DomainKeys)),
        ("sealed_shares", sequence(BLOB)),
        ("height", U64),
        ("tx_id", HASH),
    )


# -- domain-key epochs --------------------------------------------------------------------------


def current_domain_epoch(state: StateReader, genesis: Genesis) -> int | None:
    """The epoch new records must use, or ``None`` if the genesis deals no domain key."""
    if genesis.domain is None:
        return None
    raw = state.get(schema.CURRENT_DOMAIN_EPOCH)
    return genesis.domain.epoch if raw is None else Counter.from_bytes(raw).value


def domain_epoch(state: StateReader, epoch: int) -> DomainEpoch | None:
    """The epoch dealt on chain as ``epoch`` (never the genesis one), or ``None``."""
    if not 0 <= epoch < 1 << 32:
        return None
    raw = state.get(schema.domain_epoch(epoch))
    return None if raw is None else DomainEpoch.from_bytes(raw)


def domain_keys(
    state: StateReader, genesis: Genesis, epoch: int | None = None
) -> DomainKeys | None:
    """The domain key of ``epoch`` (the current one when ``None``): the genesis' for its epoch,
    else the one a committed rotation dealt; ``None`` for an epoch not (yet) dealt."""
    if genesis.domain is None:
        return None
    if epoch is None:
        epoch = current_domain_epoch(state, genesis)
    if epoch == genesis.domain.epoch:
        return genesis.domain
    dealt = domain_epoch(state, epoch) if epoch is not None else None
    return None if dealt is None else dealt.domain


def sealed_domain_share(state: StateReader, epoch: int, index: int) -> SealedDomainShare | None:
    """Node ``index``'s sealed share of an epoch dealt on chain, or ``None`` (the genesis epoch's
    shares are not on chain, and an epoch not dealt has none)."""
    dealt = domain_epoch(state, epoch)
    if dealt is None or not 1 <= index <= len(dealt.sealed_shares):
        return None
    return SealedDomainShare.from_bytes(dealt.sealed_shares[index - 1])


def check_rotation(state: StateReader, genesis: Genesis, tx: RotateDomainKey) -> None:
    """Raise :class:`RuleBroken` unless ``tx`` deals the next epoch validly for this network:
    its epoch one past the current, a threshold at least the network's, one ``VK_i`` and one
    sealed share per genesis node (share i labelled for node i and this epoch), and ``VK_i``
    that interpolate to the new pk_p2 (checked on the default pairing backend)."""
    current = current_domain_epoch(state, genesis)
    if current is None:
        raise RuleBroken("the genesis deals no domain key, so there is none to rotate")
    domain, size = tx.domain, genesis.size
    if domain.epoch != current + 1:
        raise RuleBroken(
            f"domain epoch {domain.epoch} does not follow the current epoch {current} "
            "(read the current one and deal again)",
            state_dependent=domain.epoch > current + 1,
        )
    if not genesis.threshold <= domain.threshold <= size:
        raise RuleBroken(
            f"domain threshold {domain.threshold} is not within {genesis.threshold}..{size} "
            "(at least the network's)"
        )
    if len(domain.verification_keys) != size or len(tx.sealed_shares) != size:
        raise RuleBroken(f"a rotation deals one VK_i and one sealed share to each of {size} nodes")
    for index, raw in enumerate(tx.sealed_shares, start=1):
        try:
            sealed = SealedDomainShare.from_bytes(raw)
        except DecodeError as exc:
            raise RuleBroken(f"sealed share {index}: {exc}") from exc
        if (sealed.epoch, sealed.index) != (domain.epoch, index):
            raise RuleBroken(
                f"sealed share {index} is labelled node {sealed.index} of epoch {sealed.epoch}"
            )
    try:
        check_domain_keys(domain, load_group(), "domain")
    except GenesisError as exc:
        raise RuleBroken(str(exc)) from exc


def rotate_domain_key(
    state: Overlay, genesis: Genesis, tx: RotateDomainKey, tx_id: bytes, height: int
) -> None:
    """Check ``tx`` (:func:`check_rotation`) and make its epoch the current one."""
    check_rotation(state, genesis, tx)
    epoch = tx.domain.epoch
    entry = DomainEpoch(tx.domain, tx.sealed_shares, height, tx_id)
    state.put(schema.domain_epoch(epoch), entry.to_bytes())
    state.put(schema.CURRENT_DOMAIN_EPOCH, Counter(epoch).to_bytes())


# -- attribute keys -----------------------------------------------------------------------------


def attribute_key(state: StateReader, member_id: bytes) -> AttributeKeyEntry | None:
    """The latest attribute key published for ``member_id``, or ``None``."""
    raw = state.get(schema.attribute_key(member_id))
    return None if raw is None else AttributeKeyEntry.from_bytes(raw)


def _issued_key_names(issued_key: bytes) -> tuple[str, bytes, int, bytes]:
    """``(chain id, member id, attribute seq, attribute head)`` at the start of an encoded
    IssuedAttributeKey; raises :class:`RuleBroken` if it does not start like one."""
    reader = Reader(issued_key, "issued attribute key")
    try:
        reader.expect_header(tags.CLIENT_ATTRIBUTE_KEY, ISSUED_KEY_VERSION)
        return reader.text(), reader.fixed(32), reader.u32(), reader.fixed(32)
    except DecodeError as exc:
        raise RuleBroken(f"issued_key is not an issued attribute key: {exc}") from exc


def check_attribute_key(genesis: Genesis, member: Member, tx: PublishAttributeKey) -> None:
    """Raise :class:`RuleBroken` unless ``tx`` publishes a key for ``member``'s current head of
    the attribute-change chain and the key inside names this chain, member and link."""
    if tx.attribute_seq != member.attribute_seq or tx.attribute_head != member.attribute_head:
        later = tx.attribute_seq > member.attribute_seq
        raise RuleBroken(
            f"the key is for attribute link {tx.attribute_seq}, but the member's current link is "
            f"{member.attribute_seq}"
            + (" (not committed yet)" if later else ": issue the key again for its attributes"),
            state_dependent=later,
        )
    named = _issued_key_names(tx.issued_key)
    if named != (genesis.chain_id, tx.member_id, tx.attribute_seq, tx.attribute_head):
        raise RuleBroken("issued_key names another chain, member or attribute link than the "
                         "transaction")


def publish_attribute_key(
    state: Overlay, genesis: Genesis, member: Member, tx: PublishAttributeKey, tx_id: bytes,
    height: int,
) -> None:
    """Check ``tx`` (:func:`check_attribute_key`) and keep it as ``member``'s latest key."""
    check_attribute_key(genesis, member, tx)
    entry = AttributeKeyEntry(
        tx.member_id, tx.attribute_seq, tx.attribute_head, tx.issued_key, tx.issued_at_ms,
        height, tx_id,
    )
    state.put(schema.attribute_key(tx.member_id), entry.to_bytes())
