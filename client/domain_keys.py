"""The domain key a new policy record is encrypted to: the current epoch, checked.

The genesis deals epoch 0; each ``authority rotate-domain-key`` deals the next on chain
(:mod:`ledger.authority_state`), and nodes refuse a PutRecord under any epoch but the current
one. :func:`current_domain_keys` asks the node for the current epoch (``GET /domain-keys``) and
checks what it says: the genesis epoch must be the genesis' own keys, and a later epoch must come
from a committed RotateDomainKey signed by the genesis authority whose keys are the ones
reported; its ``VK_i`` must interpolate to its public key (:func:`current_domain_key`). So a
node cannot hand the owner a domain key of its own making, short of forging the authority's
signature.
"""

from __future__ import annotations

from typing import Any

from client.errors import IntegrityError
from client.session import Session
from crypto.errors import DecodeError
from crypto.groups import G2Element
from ledger.domain_rotation import RotationRejected, checked_rotation, domain_public_key
from ledger.genesis import DomainKeys
from ledger.transactions import decode_transaction


def _keys_of(entry: Any) -> DomainKeys:
    try:
        return DomainKeys(
            epoch=int(entry["epoch"]),
            threshold=int(entry["threshold"]),
            public_key=bytes.fromhex(str(entry["public_key"])),
            verification_keys=tuple(bytes.fromhex(str(v)) for v in entry["verification_keys"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"malformed domain key answer from the node: {exc!r}") from exc


def current_domain_keys(session: Session) -> DomainKeys:
    """The current epoch's domain key, checked as the module docstring says.

    Raises :class:`IntegrityError` if the network deals no domain key or the node's answer does
    not check out, and the client's errors for an unreachable node.
    """
    genesis = session.genesis
    if genesis.domain is None:
        raise IntegrityError("this network's genesis deals no domain key")
    answer = session.client.domain_keys()
    try:
        current = int(answer["current"])
        entry = next(e for e in answer["epochs"] if int(e["epoch"]) == current)
    except (KeyError, TypeError, ValueError, StopIteration) as exc:
        raise IntegrityError(f"malformed domain-keys answer from the node: {exc!r}") from exc
    keys = _keys_of(entry)
    if keys.epoch == genesis.domain.epoch:
        if keys != genesis.domain:
            raise IntegrityError("the node reports another domain key than the genesis deals")
        return keys
    dealt = session.client.tx(str(entry.get("tx_id")))
    try:
        tx = checked_rotation(genesis, decode_transaction(bytes.fromhex(str(dealt["raw"]))))
    except (KeyError, ValueError, DecodeError, RotationRejected) as exc:
        raise IntegrityError(
            f"the rotation of epoch {keys.epoch} does not check out: {exc}"
        ) from exc
    if tx.domain != keys:
        raise IntegrityError("the node reports other keys than the authority's rotation dealt")
    return keys


def current_domain_key(session: Session) -> tuple[int, G2Element]:
    """The current epoch and its domain public key ``gamma2^p2`` (what K_pre is encrypted to),
    from :func:`current_domain_keys`, whose ``VK_i`` are checked to interpolate to it here.
    Raises as :func:`current_domain_keys` does."""
    keys = current_domain_keys(session)
    try:
        return keys.epoch, domain_public_key(keys, session.group)
    except RotationRejected as exc:
        raise IntegrityError(str(exc)) from exc
