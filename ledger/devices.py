"""Devices on the ledger (seed 000's DCTs): who they measure, which edge submits for them, and
their ReKeys to the domain key, one per epoch.

A device encrypts its readings under its own key; its edge re-encrypts them to the domain key
with the device's ReKey and submits the record under the owner's (the patient's) member id.
The authority, which made the device key, puts the device on chain with
:class:`~ledger.transactions.RegisterDevice`: its public key, the owner (a registered member),
the edge (one of the genesis' edges) and the ReKey for the current domain epoch. After a
rotation of the domain key, :class:`~ledger.transactions.RekeyDevice` adds the device's ReKey
for the new epoch; the ReKeys of earlier epochs stay. State: :class:`DeviceEntry` per device
(``D`` + device id) and :class:`DeviceRekey` per device and epoch (``w`` + device id + epoch).

A PutRecord that names a device (:func:`check_device_record`) must be signed by that device's
edge with the Ed25519 key the genesis lists for it, name the device's owner as its owner, and be
a policy record under the current epoch, for which the device has a ReKey on chain. Its C1 proof
is checked as for any policy record (:func:`ledger.content.check_put_record`): the device made
C1 and the proof, bound to the record, owner and chain, and re-encryption leaves both as they
were.

Why a ReKey may be public: it turns a device ciphertext into one under the domain key and
nothing else; opening that takes the domain secret p2, which no one holds whole (t of the n
nodes hold shares of it). What the ledger checks of a ReKey is the pairing equation of
:func:`crypto.dual.verify_rekey` against the device key and the epoch's domain public key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

from crypto import tags
from crypto.dual import DevicePublicKey, DomainPublicKey, DualParams, ReKey, setup, verify_rekey
from crypto.errors import CryptoError
from crypto.groups import load_group
from ledger import schema
from ledger.authority_state import Overlay, StateReader, current_domain_epoch, domain_keys
from ledger.encoding import BLOB, HASH, TEXT, U32, U64, Encoded
from ledger.genesis import EdgeInfo, Genesis
from ledger.ordering import RuleBroken
from ledger.transactions import PutRecord, RegisterDevice, RekeyDevice, device_id_for

TAG_DEVICE_ENTRY = tags.LEDGER_DEVICE_ENTRY
TAG_DEVICE_REKEY = tags.LEDGER_DEVICE_REKEY


class DeviceRefused(RuleBroken):
    """A device transaction, or a PutRecord naming a device, that the device rules refuse."""


@dataclass(frozen=True, slots=True)
class DeviceEntry(Encoded):
    """A device registered at ``height`` by transaction ``tx_id``; ``registered_epoch`` is the
    domain epoch of its first ReKey."""

    device_id: bytes
    device_key: bytes
    owner: bytes
    edge: str
    registered_epoch: int
    registered_at_ms: int
    height: int
    tx_id: bytes

    TAG = TAG_DEVICE_ENTRY
    FIELDS = (
        ("device_id", HASH),
        ("device_key", BLOB),
        ("owner", HASH),
        ("edge", TEXT),
        ("registered_epoch", U32),
        ("registered_at_ms", U64),
        ("height", U64),
        ("tx_id", HASH),
    )


@dataclass(frozen=True, slots=True)
class DeviceRekey(Encoded):
    """A device's ReKey to the domain key of ``domain_epoch``, committed at ``height``."""

    device_id: bytes
    domain_epoch: int
    rekey: bytes
    height: int
    tx_id: bytes

    TAG = TAG_DEVICE_REKEY
    FIELDS = (
        ("device_id", HASH),
        ("domain_epoch", U32),
        ("rekey", BLOB),
        ("height", U64),
        ("tx_id", HASH),
    )


# -- queries ------------------------------------------------------------------------------------


def device(state: StateReader, device_id: bytes) -> DeviceEntry | None:
    """The device registered as ``device_id``, or ``None``."""
    if len(device_id) != 32:
        return None
    raw = state.get(schema.device(device_id))
    return None if raw is None else DeviceEntry.from_bytes(raw)


def device_rekey(state: StateReader, device_id: bytes, epoch: int) -> DeviceRekey | None:
    """The device's ReKey for ``epoch``, or ``None``."""
    if len(device_id) != 32 or not 0 <= epoch < 1 << 32:
        return None
    raw = state.get(schema.device_rekey(device_id, epoch))
    return None if raw is None else DeviceRekey.from_bytes(raw)


def device_rekeys(state: StateReader, entry: DeviceEntry, current_epoch: int) -> list[DeviceRekey]:
    """The device's ReKeys, oldest epoch first, from its registration up to ``current_epoch``
    (an epoch it was not re-keyed for is missing)."""
    found = (
        device_rekey(state, entry.device_id, epoch)
        for epoch in range(entry.registered_epoch, current_epoch + 1)
    )
    return [rekey for rekey in found if rekey is not None]


# -- checks -------------------------------------------------------------------------------------


@cache
def _params() -> DualParams:
    return setup(load_group())


@lru_cache(maxsize=1024)
def rekey_problem(device_key: bytes, domain_public_key: bytes, rekey: bytes) -> str | None:
    """Why ``rekey`` is not a ReKey from ``device_key`` to ``domain_public_key`` (canonical
    encodings), or ``None`` when it is. Remembered, since admission checks a pending
    transaction again after every block and a pairing costs milliseconds."""
    params = _params()
    try:
        device_public = DevicePublicKey.from_bytes(params, device_key)
    except CryptoError as exc:
        return f"device key is not a dual-scheme device public key: {exc}"
    try:
        domain_public = DomainPublicKey.from_bytes(params, domain_public_key)
        parsed = ReKey.from_bytes(params, rekey)
        verify_rekey(params, device_public, domain_public, parsed)
    except CryptoError as exc:
        return f"rekey refused: {exc}"
    return None


def _check_epoch(state: StateReader, genesis: Genesis, epoch: int) -> bytes:
    """The domain public key of ``epoch``, which must be the current one."""
    current = current_domain_epoch(state, genesis)
    if current is None:
        raise DeviceRefused("the genesis deals no domain key, so a device has nothing to re-key to")
    if epoch != current:
        raise DeviceRefused(
            f"the ReKey is for domain epoch {epoch}, the current epoch is {current}",
            state_dependent=epoch > current,
        )
    keys = domain_keys(state, genesis, epoch)
    if keys is None:  # pragma: no cover - the current epoch is always dealt
        raise DeviceRefused(f"domain epoch {epoch} has no key")
    return keys.public_key


def _check_rekey(device_key: bytes, domain_public_key: bytes, rekey: bytes) -> None:
    problem = rekey_problem(device_key, domain_public_key, rekey)
    if problem is not None:
        raise DeviceRefused(problem)


def check_register_device(state: StateReader, genesis: Genesis, tx: RegisterDevice) -> None:
    """Raise :class:`DeviceRefused` unless ``tx`` registers a new device of a genesis edge with
    a valid ReKey for the current epoch (the authority's signature and the owner's registration
    are checked by the state transition)."""
    if tx.device_id != device_id_for(tx.device_key):
        raise DeviceRefused("device id is not the hash of the device key")
    if genesis.edge(tx.edge) is None:
        raise DeviceRefused(f"edge {tx.edge!r} is not an edge listed in the genesis")
    if device(state, tx.device_id) is not None:  # before the epoch: this never becomes valid
        raise DeviceRefused(
            f"device {tx.device_id.hex()[:16]} is already registered "
            "(a new epoch's ReKey goes in a RekeyDevice)"
        )
    public = _check_epoch(state, genesis, tx.domain_epoch)
    _check_rekey(tx.device_key, public, tx.rekey)


def register_device(
    state: Overlay, genesis: Genesis, tx: RegisterDevice, tx_id: bytes, height: int
) -> None:
    """Check ``tx`` (:func:`check_register_device`) and store the device and its ReKey."""
    check_register_device(state, genesis, tx)
    entry = DeviceEntry(
        tx.device_id, tx.device_key, tx.owner, tx.edge, tx.domain_epoch, tx.registered_at_ms,
        height, tx_id,
    )
    state.put(schema.device(tx.device_id), entry.to_bytes())
    rekey = DeviceRekey(tx.device_id, tx.domain_epoch, tx.rekey, height, tx_id)
    state.put(schema.device_rekey(tx.device_id, tx.domain_epoch), rekey.to_bytes())


def check_rekey_device(state: StateReader, genesis: Genesis, tx: RekeyDevice) -> None:
    """Raise :class:`DeviceRefused` unless ``tx`` gives a registered device a valid ReKey for
    the current epoch, which it has none for yet."""
    entry = device(state, tx.device_id)
    if entry is None:
        raise DeviceRefused(
            f"device {tx.device_id.hex()[:16]} is not registered", state_dependent=True
        )
    public = _check_epoch(state, genesis, tx.domain_epoch)
    if device_rekey(state, tx.device_id, tx.domain_epoch) is not None:
        raise DeviceRefused(
            f"device {tx.device_id.hex()[:16]} already has a ReKey for epoch {tx.domain_epoch}"
        )
    _check_rekey(entry.device_key, public, tx.rekey)


def rekey_device(
    state: Overlay, genesis: Genesis, tx: RekeyDevice, tx_id: bytes, height: int
) -> None:
    """Check ``tx`` (:func:`check_rekey_device`) and store the ReKey for its epoch."""
    check_rekey_device(state, genesis, tx)
    rekey = DeviceRekey(tx.device_id, tx.domain_epoch, tx.rekey, height, tx_id)
    state.put(schema.device_rekey(tx.device_id, tx.domain_epoch), rekey.to_bytes())


def record_edge(state: StateReader, genesis: Genesis, tx: PutRecord) -> EdgeInfo:
    """The edge whose key must sign ``tx``, a PutRecord naming a device.

    Raises :class:`DeviceRefused` unless the device is registered, ``tx``'s owner is the
    device's owner, and ``tx`` is a policy record under an epoch the device has a ReKey for
    (that the epoch is the current one is checked with the record's content).
    """
    entry = device(state, tx.device_id)
    if entry is None:
        raise DeviceRefused(
            f"device {tx.device_id.hex()[:16]} is not registered", state_dependent=True
        )
    if tx.owner != entry.owner:
        raise DeviceRefused("the record's owner is not the device's owner")
    if not tx.policy:
        raise DeviceRefused(
            "a device's record must be a policy record (its key reaches the requester through "
            "the domain key)"
        )
    if device_rekey(state, tx.device_id, tx.domain_epoch) is None:
        current = current_domain_epoch(state, genesis)
        raise DeviceRefused(  # a past epoch gets no new ReKey (RekeyDevice takes the current)
            f"device {tx.device_id.hex()[:16]} has no ReKey for domain epoch {tx.domain_epoch}",
            state_dependent=current is not None and tx.domain_epoch >= current,
        )
    edge = genesis.edge(entry.edge)
    if edge is None:  # pragma: no cover - checked at registration; the genesis never changes
        raise DeviceRefused(f"the device's edge {entry.edge!r} is not in the genesis")
    return edge


__all__ = [
    "DeviceEntry",
    "DeviceRefused",
    "DeviceRekey",
    "check_register_device",
    "check_rekey_device",
    "device",
    "device_rekey",
    "device_rekeys",
    "record_edge",
    "register_device",
    "rekey_device",
    "rekey_problem",
]
