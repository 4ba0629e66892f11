"""What a node's home directory says the node is: config, genesis, keys and its index.

:func:`load_identity` reads and cross-checks everything before the node touches its data: a
home whose key is not a genesis node, whose box key does not match its genesis entry, whose
domain share does not match the genesis' ``VK_i`` (:mod:`node.domain_share`), or whose files
are missing or malformed is refused with a :class:`~node.config.ConfigError` that names the
problem.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from consensus import Timeouts
from crypto.dual import DomainKeyShare
from crypto.groups import load_group
from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from ledger.genesis import Genesis
from ledger.keyfiles import KeyFileError, load_secret
from node.config import (
    BOX_KEY_FILE,
    GENESIS_FILE,
    NODE_KEY_FILE,
    ConfigError,
    NodeConfig,
    check_addresses,
    load_config,
)
from node.config import listen_endpoint as listen_endpoint  # where node.service looks for it
from node.domain_share import load_domain_share
from node.shedding import Shedding

#: Test only: the chaos harness (testnet.chaos) gives each node process a wall clock this many
#: ms off, to check that tolerated skew between machines does no harm. Never set it otherwise.
TEST_CLOCK_SKEW_ENV = "IOMTSHARE_TEST_CLOCK_SKEW_MS"
_test_clock_skew_ms = 0


def wall_ms() -> int:
    """Wall-clock milliseconds: block times and request freshness, which other nodes and the
    ledger compare across machines. Consensus deadlines use trio's clock instead (see
    :mod:`node.consensus_loop`)."""
    return int(time.time() * 1000) + _test_clock_skew_ms


def _install_test_clock_skew() -> None:
    """Read :data:`TEST_CLOCK_SKEW_ENV` (the node's start reads it through load_identity, so a
    malformed value is a ConfigError like any other bad setting) and say so loudly if set."""
    global _test_clock_skew_ms
    text = os.environ.get(TEST_CLOCK_SKEW_ENV, "").strip()
    try:
        _test_clock_skew_ms = int(text) if text else 0
    except ValueError as exc:
        raise ConfigError(f"{TEST_CLOCK_SKEW_ENV}={text!r} is not a whole number of ms") from exc
    if _test_clock_skew_ms:
        logging.getLogger("iomtshare.node").warning(
            "TEST ONLY: wall clock shifted by %d ms (%s)", _test_clock_skew_ms, TEST_CLOCK_SKEW_ENV
        )


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """What a home directory says this node is."""

    home: Path
    config: NodeConfig
    genesis: Genesis
    index: int
    node_key: SigningKey
    box_key: BoxSecretKey
    #: This node's share of the genesis domain key (``None`` if the genesis deals none).
    domain_share: DomainKeyShare | None = None
    #: When it refuses client submissions as busy (config.toml's bounds, checked on load).
    shedding: Shedding = field(default_factory=Shedding)


def load_config_and_genesis(home: Path) -> tuple[NodeConfig, Genesis]:
    """``config.toml`` (addresses checked) and ``genesis.json`` of ``home``, for a consensus
    node or an edge; raises :class:`ConfigError` naming the file."""
    config = load_config(home)
    check_addresses(config)
    try:
        genesis = Genesis.load(home / GENESIS_FILE)
    except OSError as exc:
        raise ConfigError(f"cannot read {home / GENESIS_FILE}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{home / GENESIS_FILE} is not a valid genesis: {exc}") from exc
    return config, genesis


def load_identity(home: Path) -> NodeIdentity:
    """Read config, genesis and keys of ``home``; raises :class:`ConfigError` with a clear
    message if anything is missing or does not fit together."""
    if not home.is_dir():
        raise ConfigError(f"{home} is not a node home directory")
    _install_test_clock_skew()
    config, genesis = load_config_and_genesis(home)
    try:
        node_key = SigningKey(load_secret(home / NODE_KEY_FILE))
        box_key = BoxSecretKey(load_secret(home / BOX_KEY_FILE))
    except KeyFileError as exc:
        raise ConfigError(str(exc)) from exc
    own = bytes(node_key.verify_key)
    index = next((n.index for n in genesis.nodes if n.verify_key == own), None)
    if index is None:
        raise ConfigError("this node's key is not one of the genesis nodes")
    node = genesis.node(index)
    if node is not None and node.box_key != bytes(box_key.public_key):
        raise ConfigError("box_key does not match the genesis entry of this node")
    shedding = Shedding.from_config(config.extra)
    share = None
    if genesis.domain is not None:
        try:
            group = load_group(config.pairing_backend)
        except (ValueError, ImportError) as exc:
            raise ConfigError(f"pairing_backend {config.pairing_backend!r}: {exc}") from exc
        share = load_domain_share(home, genesis, index, box_key, group)
    return NodeIdentity(home, config, genesis, index, node_key, box_key, share, shedding)


#: How long round-0 claims are held back per place in the claim order. Nodes collect their
#: approvals at nearly the same time; under load the first claim can take tens of milliseconds
#: to reach the others, and a claim made meanwhile splits the election and loses the round.
#: A node verifies peers' votes as they arrive either way, so the wait costs nothing while the
#: round's preferred claimant is up.
CLAIM_STAGGER_SECONDS = 0.25


def timeouts_of(genesis: Genesis) -> Timeouts:
    """Round timing from genesis (``round_timeout_ms`` sets the first proposal wait)."""
    propose = max(genesis.round_timeout_ms / 1000, 0.2)
    return Timeouts(
        propose=propose,
        prepare=propose / 2,
        commit=propose / 2,
        increment=propose / 2,
        batch_delay=min(0.2, genesis.block_interval_ms / 1000),
        status_interval=2.0,
        claim_stagger=CLAIM_STAGGER_SECONDS,
    )
