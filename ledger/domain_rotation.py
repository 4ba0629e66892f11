"""Checking a domain-key rotation someone else reports: the authority signed it, its keys hold.

A client (:mod:`client.domain_keys`) and an edge (:mod:`node.edge.sensor_epochs`) learn the
current domain epoch from a node. The node's word is not trusted for the keys: the epoch must
come from a :class:`~ledger.transactions.RotateDomainKey` signed by the genesis authority
(:func:`checked_rotation`), and its ``VK_i`` must interpolate to its public key
(:func:`domain_public_key`), so a node cannot hand out a domain key of its own making short of
forging the authority's signature. Pure: no network, clock or disk.
"""

from __future__ import annotations

from crypto.errors import CryptoError
from crypto.groups import G2Element, Group
from crypto.signing import VerifyKey
from ledger.authority_keys import check_domain_keys
from ledger.errors import LedgerError
from ledger.genesis import DomainKeys, Genesis, GenesisError
from ledger.transactions import RotateDomainKey, Transaction


class RotationRejected(LedgerError):
    """A reported rotation that is not one, is not the authority's, or whose keys do not hold."""


def checked_rotation(genesis: Genesis, tx: Transaction) -> RotateDomainKey:
    """``tx`` if it is a RotateDomainKey signed by ``genesis``' authority for its chain; raises
    :class:`RotationRejected`."""
    if not isinstance(tx, RotateDomainKey):
        raise RotationRejected(f"a {type(tx).__name__} is not a domain-key rotation")
    try:
        tx.verify_signature(VerifyKey(genesis.authority_key), genesis.chain_id)
    except CryptoError as exc:
        raise RotationRejected(
            f"the rotation of epoch {tx.domain.epoch} is not the authority's: {exc}"
        ) from exc
    return tx


def domain_public_key(keys: DomainKeys, group: Group) -> G2Element:
    """The domain public key ``gamma2^p2`` of ``keys`` (what K_pre is encrypted to), after
    checking its ``VK_i`` interpolate to it; raises :class:`RotationRejected`."""
    try:
        public, _ = check_domain_keys(keys, group, f"domain epoch {keys.epoch}")
    except GenesisError as exc:
        raise RotationRejected(str(exc)) from exc
    return public.pk2
