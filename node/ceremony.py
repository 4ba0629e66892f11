"""The authority's keys at network creation: the FAME master key and the dealt domain key.

Run once, offline, by whoever holds the authority directory, over the nodes' public infos:
``iomtshare genesis assemble --authority-dir DIR`` for nodes on separate hosts
(docs/deployment.md), ``testnet up`` for a local network. :func:`assemble_with_authority` builds
the genesis with :func:`node.assembly.assemble_genesis`, makes a FAME master key and a domain key,
deals ``p2`` t-of-n to the genesis nodes, and puts the public parts (pk_p, every ``VK_i``, the
FAME public key) into the genesis. The authority directory then holds::

    DIR/authority_key       Ed25519 seed (0600): signs registrations and attribute changes
    DIR/fame_master_key     FAME master key (0600): makes members' attribute keys
    DIR/domain_shares/node{i}.domain_share   node i's share, sealed to its box key

The domain secret ``(p1, p2)`` is dropped as soon as it is dealt and never written: whoever holds
it reads every record of the domain, which is what dealing it to the nodes is for. A node that
loses its share (or its box key) therefore gets a new one only from a new dealing; the sealed
share files may be kept and handed out again, since only their node opens them.
Errors are :class:`~node.config.ConfigError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crypto.abe import FameMasterKey, fame
from crypto.dual import DomainSecretKey, SealedDomainShare, deal_domain_key, setup
from crypto.errors import CryptoError
from crypto.groups import Group
from crypto.signing import SigningKey
from ledger.genesis import DomainKeys, Genesis
from ledger.keyfiles import KeyFileError, load_secret, write_atomic
from node.assembly import NodePublicInfo, assemble_genesis
from node.config import ConfigError

AUTHORITY_KEY_FILE = "authority_key"
FAME_MASTER_KEY_FILE = "fame_master_key"
DOMAIN_SHARES_DIR = "domain_shares"
#: A genesis deals the domain key's first epoch; later epochs come from rotations on chain.
GENESIS_EPOCH = 0


@dataclass(frozen=True, slots=True)
class DealtKeys:
    """What a dealing makes: the genesis' public section and the authority's secrets."""

    domain: DomainKeys
    fame_master: FameMasterKey
    shares: tuple[SealedDomainShare, ...]


def deal_authority_keys(group: Group, genesis: Genesis) -> DealtKeys:
    """A fresh FAME master key and domain key, ``p2`` dealt ``genesis.threshold``-of-n to the
    genesis nodes (share i sealed to node i's box key)."""
    params = setup(group)
    secret = DomainSecretKey.generate(params)
    dealing, shares = deal_domain_key(params, secret, genesis.threshold, genesis.size)
    boxes = [node.box_public_key() for node in genesis.nodes]
    section = DomainKeys(
        epoch=GENESIS_EPOCH,
        threshold=dealing.threshold,
        public_key=secret.public_key(params).to_bytes(),
        verification_keys=tuple(
            bytes(dealing.verification_key(node.index)) for node in genesis.nodes
        ),
    )
    sealed = SealedDomainShare.seal_all(GENESIS_EPOCH, shares, boxes)
    return DealtKeys(section, fame.setup(group), sealed)


def share_path(directory: Path, index: int) -> Path:
    """Where the authority directory keeps node ``index``'s sealed share."""
    return directory / DOMAIN_SHARES_DIR / f"node{index}.domain_share"


def authority_signing_key(directory: Path) -> SigningKey:
    """``DIR/authority_key``; raises ConfigError if it is missing or malformed."""
    try:
        return SigningKey(load_secret(directory / AUTHORITY_KEY_FILE))
    except KeyFileError as exc:
        raise ConfigError(
            f"{exc} (create it with `iomtshare authority init --key "
            f"{directory / AUTHORITY_KEY_FILE}`)"
        ) from exc


def load_fame_master(directory: Path, group: Group) -> FameMasterKey:
    """``DIR/fame_master_key``; raises ConfigError if it is missing or malformed."""
    path = directory / FAME_MASTER_KEY_FILE
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return FameMasterKey.from_bytes(data, group)
    except CryptoError as exc:
        raise ConfigError(f"{path} is not a FAME master key: {exc}") from exc


def assemble_with_authority(
    infos: Sequence[NodePublicInfo],
    chain_id: str,
    directory: Path,
    group: Group,
    *,
    authority: SigningKey | None = None,
    overwrite: bool = False,
    genesis_time_ms: int | None = None,
    threshold: int | None = None,
    quorum: int | None = None,
    **params: int,
) -> tuple[Genesis, tuple[SealedDomainShare, ...]]:
    """The genesis of ``infos`` with the authority's keys, and node i's sealed share at i-1.

    The authority's verify key is ``authority``'s, by default the one in ``DIR/authority_key``
    (a new network's caller may write that file afterwards). The FAME master key and the sealed
    shares are written into ``directory`` once the parameters are known to be valid and before
    the genesis is returned, so no genesis exists whose master key was lost. Raises ConfigError
    as :func:`assemble_genesis` does, if ``DIR/authority_key`` is needed and missing, or if
    ``DIR`` already holds a FAME master key and ``overwrite`` is false (members' attribute keys
    are made with it).
    """
    if authority is None:
        authority = authority_signing_key(directory)
    master_path = directory / FAME_MASTER_KEY_FILE
    if master_path.exists() and not overwrite:
        raise ConfigError(
            f"{master_path} exists: {directory} already made a network's keys; "
            "replacing them makes every attribute key issued with them useless (--force)"
        )
    plain = assemble_genesis(
        infos,
        chain_id,
        authority.verify_key.raw,
        genesis_time_ms=genesis_time_ms,
        threshold=threshold,
        quorum=quorum,
        **params,
    )
    dealt = deal_authority_keys(group, plain)
    genesis = dataclasses.replace(
        plain, domain=dealt.domain, fame_public_key=dealt.fame_master.public.to_bytes()
    )
    try:
        shares_dir = directory / DOMAIN_SHARES_DIR
        shares_dir.mkdir(parents=True, exist_ok=True)
        # Shares of an earlier dealing would open for their nodes but match no genesis.
        for stale in shares_dir.glob("node*.domain_share"):
            stale.unlink()
        for sealed in dealt.shares:
            write_atomic(share_path(directory, sealed.index), sealed.to_bytes(), mode=0o600)
        write_atomic(master_path, dealt.fame_master.to_bytes(), mode=0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write the authority's keys into {directory}: {exc}") from exc
    return genesis, dealt.shares
