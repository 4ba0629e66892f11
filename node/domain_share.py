"""A node's share of the domain key: ``HOME/domain_share``, sealed to the node's box key.

The authority deals the domain key's ``p2`` t-of-n when the network is created
(:mod:`node.ceremony`); genesis publishes each node's ``VK_i`` and the node's home holds its share
``sigma_i`` as the authority sealed it (:class:`~crypto.dual.SealedDomainShare`, mode 0600). The
share stays out of the genesis, which every node, client and explorer keeps forever: a sealed
share there would hand anyone who ever learns a node's box key that node's share of every
record of the epoch. A file in the home reaches only its node and can be replaced when the key
is dealt again.

:func:`load_domain_share` opens and checks the share against ``VK_i`` when the node starts; a
node whose genesis deals a domain key refuses to start without a matching share.
Errors are :class:`~node.config.ConfigError`.
"""

from __future__ import annotations

from pathlib import Path

from crypto.dual import DomainKeyShare, SealedDomainShare, setup
from crypto.errors import CryptoError
from crypto.groups import Group
from crypto.sealing import BoxSecretKey
from ledger.authority_keys import authority_keys
from ledger.genesis import Genesis, GenesisError
from ledger.keyfiles import write_atomic
from node.config import GENESIS_FILE, ConfigError

DOMAIN_SHARE_FILE = "domain_share"


def read_sealed_share(path: Path) -> SealedDomainShare:
    """Decode a sealed share file; raises ConfigError naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"no domain share at {path}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return SealedDomainShare.from_bytes(data)
    except CryptoError as exc:
        raise ConfigError(f"{path} is not a sealed domain share: {exc}") from exc


def open_share(
    sealed: SealedDomainShare,
    genesis: Genesis,
    index: int,
    box_key: BoxSecretKey,
    group: Group,
    source: str,
) -> DomainKeyShare:
    """Open node ``index``'s share and check it against the genesis ``VK_i``.

    Raises ConfigError naming ``source`` if the genesis deals no domain key or an invalid one,
    or the share is for another node or epoch, does not open with ``box_key``, or is not the
    one the genesis' verification key commits to.
    """
    try:
        keys = authority_keys(genesis, group)
    except GenesisError as exc:
        raise ConfigError(f"{GENESIS_FILE}: {exc}") from exc
    if keys is None:
        raise ConfigError(f"{source}: this genesis deals no domain key")
    if sealed.index != index:
        raise ConfigError(f"{source} is node {sealed.index}'s domain share; this is node {index}")
    if sealed.epoch != keys.epoch:
        raise ConfigError(
            f"{source} is a domain share of epoch {sealed.epoch}; the genesis deals epoch "
            f"{keys.epoch}"
        )
    try:
        return sealed.open(setup(group), keys.dealing, box_key)
    except CryptoError as exc:
        raise ConfigError(
            f"{source} is not this node's share of the genesis domain key ({exc}); "
            "install the one the authority sealed for this node"
        ) from exc


def load_domain_share(
    home: Path, genesis: Genesis, index: int, box_key: BoxSecretKey, group: Group
) -> DomainKeyShare | None:
    """Node ``index``'s checked domain share from ``home``, or ``None`` if the genesis deals no
    domain key. Raises ConfigError (see :func:`open_share`; also for a missing file)."""
    if genesis.domain is None:
        return None
    path = home / DOMAIN_SHARE_FILE
    if not path.exists():
        raise ConfigError(
            f"the genesis deals a domain key but {path} is missing; install this node's share "
            "(`iomtshare genesis install --domain-share FILE`)"
        )
    return open_share(read_sealed_share(path), genesis, index, box_key, group, str(path))


def write_domain_share(home: Path, sealed: SealedDomainShare) -> None:
    """Write ``HOME/domain_share`` (mode 0600, replacing any, atomically)."""
    write_atomic(home / DOMAIN_SHARE_FILE, sealed.to_bytes(), mode=0o600)
