"""The authority's public keys in a genesis, decoded and checked on one pairing backend.

:class:`~ledger.genesis.Genesis` checks only their shape, since it has no group. Here every point
is decoded (length, canonical form, subgroup) and the nodes' verification keys are checked to lie
on one polynomial of degree < t whose value at 0 is pk_p2, the domain public key: only then do
any t nodes' decryption shares combine to the key records are encrypted under. Errors are
:class:`~ledger.genesis.GenesisError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.abe import FamePublicKey
from crypto.dual import DomainKeyDealing, DomainPublicKey, setup
from crypto.errors import DecodeError, ThresholdError, VerificationError
from crypto.groups import G2Element, Group
from ledger.genesis import DomainKeys, Genesis, GenesisError

#: Decoded keys per (genesis hash, backend): the check costs t^2 G2 multiplications.
_CACHE: dict[tuple[bytes, str], AuthorityKeys] = {}
_CACHE_LIMIT = 16


@dataclass(frozen=True, slots=True)
class AuthorityKeys:
    """The checked keys: the domain key of ``epoch``, its dealing (whose ``verification_key(i)``
    is node i's ``VK_i``) and the FAME public key attribute-based ciphertexts are made under."""

    epoch: int
    domain: DomainPublicKey
    dealing: DomainKeyDealing
    fame: FamePublicKey


def authority_keys(genesis: Genesis, group: Group) -> AuthorityKeys | None:
    """The authority's keys of ``genesis`` on ``group``, or ``None`` if it has none.

    Raises :class:`GenesisError` naming the field for a point that does not decode or
    verification keys that do not interpolate to the domain public key.
    """
    if genesis.domain is None or genesis.fame_public_key is None:
        return None
    key = (genesis.hash(), group.name)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    public, dealing = check_domain_keys(genesis.domain, group, "domain")
    try:
        fame = FamePublicKey.from_bytes(genesis.fame_public_key, group)
    except DecodeError as exc:
        raise GenesisError(f"fame_public_key: {exc}") from exc
    keys = AuthorityKeys(genesis.domain.epoch, public, dealing, fame)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[key] = keys
    return keys


def check_domain_keys(
    domain: DomainKeys, group: Group, field: str
) -> tuple[DomainPublicKey, DomainKeyDealing]:
    """Decode one epoch's domain key on ``group`` and check its ``VK_i``.

    Returns pk_p and the dealing recovered from the ``VK_i``; raises :class:`GenesisError`
    naming ``field`` (where ``domain`` sits) for a point that does not decode or verification
    keys that do not lie on one polynomial of degree < t through pk_p2.
    """
    params = setup(group)
    try:
        public = DomainPublicKey.from_bytes(params, domain.public_key)
    except DecodeError as exc:
        raise GenesisError(f"{field}.public_key: {exc}") from exc
    points: list[G2Element] = []
    for position, raw in enumerate(domain.verification_keys):
        try:
            points.append(group.g2_from_bytes(raw))
        except DecodeError as exc:
            raise GenesisError(
                f"{field}.verification_keys[{position}] (node {position + 1}): {exc}"
            ) from exc
    try:
        dealing = DomainKeyDealing.from_verification_keys(params, domain.threshold, points)
    except (ThresholdError, VerificationError) as exc:
        raise GenesisError(f"{field}.verification_keys: {exc}") from exc
    if dealing.public_key != public.pk2:
        raise GenesisError(
            f"{field}.verification_keys do not interpolate to the domain public key pk_p2 "
            f"({field}.public_key)"
        )
    return public, dealing
