"""A node's shares of the domain key: ``HOME/domain_share`` for the genesis epoch, and one per
later epoch (:class:`EpochShares`), each sealed to the node's box key.

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

Later epochs come from the authority's rotations on chain (:mod:`ledger.authority_state`, whose
docstring weighs sealing the new shares into the chain). :class:`EpochShares` opens this node's
share of such an epoch the first time a record of that epoch needs it, checks it against that
epoch's ``VK_i`` and keeps the sealed share in ``HOME/domain_shares/epoch-N.domain_share``
(0600), so the node keeps every epoch's share: a record names the epoch it was put under, and
records put before a rotation are answered with the old epoch's share for good.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crypto.dual import DomainKeyShare, SealedDomainShare, setup
from crypto.errors import CryptoError
from crypto.groups import Group
from crypto.sealing import BoxSecretKey
from ledger import authority_state
from ledger.authority_keys import authority_keys, check_domain_keys
from ledger.genesis import Genesis, GenesisError
from ledger.keyfiles import write_atomic
from ledger.ledger import Ledger
from node.config import GENESIS_FILE, ConfigError

DOMAIN_SHARE_FILE = "domain_share"
#: Where a home keeps its sealed shares of the epochs dealt on chain.
EPOCH_SHARES_DIR = "domain_shares"

logger = logging.getLogger("iomtshare.node.domain_share")


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


def epoch_share_path(home: Path, epoch: int) -> Path:
    """Where ``home`` keeps its sealed share of ``epoch`` (an epoch dealt on chain)."""
    return home / EPOCH_SHARES_DIR / f"epoch-{epoch}.domain_share"


class EpochShares:
    """Node ``index``'s share of every domain-key epoch, the one :meth:`share` names.

    ``genesis_share`` is the checked share of the genesis epoch (:func:`load_domain_share`);
    later epochs are opened from ``home`` or, the first time, from the rotation on ``ledger``.
    ``home`` may be ``None`` (in-memory nodes in tests): shares are then kept in memory only.
    """

    def __init__(
        self,
        ledger: Ledger,
        index: int,
        box_key: BoxSecretKey,
        group: Group,
        genesis_share: DomainKeyShare | None,
        home: Path | None = None,
    ) -> None:
        self.ledger = ledger
        self.index = index
        self.group = group
        self._box_key = box_key
        self._home = home
        self._shares: dict[int, DomainKeyShare] = {}
        # Epochs whose share did not open: said once in the log, not on every request.
        self._unusable: set[int] = set()
        domain = ledger.genesis.domain
        if genesis_share is not None and domain is not None:
            self._shares[domain.epoch] = genesis_share

    def share(self, epoch: int) -> DomainKeyShare | None:
        """This node's checked share of ``epoch``, or ``None`` if the chain has not dealt that
        epoch (yet) or this node's share of it does not open or match its ``VK_i`` (logged: the
        node cannot answer requests for that epoch's records until the authority deals again)."""
        known = self._shares.get(epoch)
        if known is not None or epoch in self._unusable:
            return known
        domain = authority_state.domain_keys(self.ledger.store, self.ledger.genesis, epoch)
        if domain is None or epoch == getattr(self.ledger.genesis.domain, "epoch", None):
            return None
        local = epoch_share_path(self._home, epoch) if self._home is not None else None
        try:
            if local is not None and local.exists():
                sealed = read_sealed_share(local)
            else:
                found = authority_state.sealed_domain_share(self.ledger.store, epoch, self.index)
                if found is None:
                    return None
                sealed = found
            if (sealed.epoch, sealed.index) != (epoch, self.index):
                raise ConfigError(f"the sealed share is node {sealed.index}'s of epoch "
                                  f"{sealed.epoch}")
            _, dealing = check_domain_keys(domain, self.group, f"domain epoch {epoch}")
            share = sealed.open(setup(self.group), dealing, self._box_key)
        except (ConfigError, CryptoError, GenesisError) as exc:
            self._unusable.add(epoch)
            logger.error(
                "cannot use this node's share of domain epoch %d: %s; records of that epoch get "
                "no share from this node", epoch, exc,
            )
            return None
        if local is not None and not local.exists():
            try:
                local.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                write_atomic(local, sealed.to_bytes(), mode=0o600)
            except OSError as exc:  # the chain still holds it; the copy is a convenience
                logger.warning("cannot keep the share of epoch %d in %s: %s", epoch, local, exc)
        self._shares[epoch] = share
        return share
