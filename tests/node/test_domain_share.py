"""The authority's keys of a created network: the dealt domain key in genesis and node homes.

``testnet.layout`` makes them through ``node.ceremony``; each node loads its share at start
(``node.home.load_identity``) and refuses one that does not match its ``VK_i``.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from crypto.abe import FameMasterKey
from crypto.dual import (
    DecryptionRequest,
    DomainKeyShare,
    DomainPublicKey,
    ProofContext,
    SealedDomainShare,
    combine_decryption_shares,
    decryption_share,
    encrypt_to_domain,
    requester_decrypt,
    setup,
    verify_ciphertext,
    verify_decryption_shares,
)
from crypto.errors import DecryptionError
from crypto.groups import Group, load_group
from crypto.polynomial import lagrange_at_zero
from crypto.signing import SigningKey
from ledger.authority_keys import authority_keys
from ledger.keyfiles import save_secret
from node.assembly import NodePublicInfo, install_genesis
from node.ceremony import assemble_with_authority, load_fame_master
from node.config import ConfigError
from node.domain_share import DOMAIN_SHARE_FILE
from node.home import load_identity
from node.provision import init_node_home
from testnet.layout import LayoutError, Network, create_network


@pytest.fixture(scope="module")
def group() -> Group:
    return load_group("mcl")


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Network:
    return create_network(tmp_path_factory.mktemp("net"), 4, threshold=3, base_port=32100)


def node_share(network: Network, index: int) -> DomainKeyShare:
    share = load_identity(network.directory / f"node{index}").domain_share
    assert share is not None
    return share


def test_testnet_up_deals_the_domain_key_to_the_nodes(network: Network, group: Group) -> None:
    params = setup(group)
    genesis = network.genesis
    domain = genesis.domain
    assert domain is not None
    assert (domain.epoch, domain.threshold) == (0, 3)
    public = DomainPublicKey.from_bytes(params, domain.public_key)
    vks = [group.g2_from_bytes(raw) for raw in domain.verification_keys]
    # Each node's share, as loaded from its home, is the one its VK_i commits to.
    for index in range(1, 5):
        assert params.gamma2 * node_share(network, index).sigma == vks[index - 1]
    # Any t verification keys interpolate to pk_p2.
    for chosen in ([1, 2, 3], [2, 3, 4], [1, 3, 4]):
        acc = group.g2_identity()
        for index, weight in zip(chosen, lagrange_at_zero(chosen, params.order), strict=True):
            acc = acc + vks[index - 1] * weight
        assert acc == public.pk2
    keys = authority_keys(genesis, group)
    assert keys is not None
    assert keys.dealing.public_key == public.pk2
    # The authority keeps its secrets 0600; the domain secret itself is nowhere.
    authority = network.authority_dir
    assert sorted(p.name for p in authority.iterdir()) == [
        "authority_key", "domain_shares", "fame_master_key"
    ]
    for path in (authority / "fame_master_key", authority / "domain_shares" / "node2.domain_share"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    home_share = network.directory / "node2" / DOMAIN_SHARE_FILE
    assert stat.S_IMODE(home_share.stat().st_mode) == 0o600
    master = load_fame_master(authority, group)
    assert isinstance(master, FameMasterKey)
    assert master.public.to_bytes() == genesis.fame_public_key


def test_t_node_shares_open_a_record_under_the_genesis_key(
    network: Network, group: Group
) -> None:
    params = setup(group)
    keys = authority_keys(network.genesis, group)
    assert keys is not None
    record = ProofContext(b"record-1", b"owner-1", network.chain_id.encode())
    sealed = encrypt_to_domain(params, keys.domain.pk2, b"K_pre of record 1", context=record)
    verified = verify_ciphertext(params, sealed, record)
    requester = params.random_scalar()
    request = DecryptionRequest(params, verified, params.g0 * requester, b"request-1")
    answers = [decryption_share(params, node_share(network, i), request) for i in (1, 3, 4)]
    check = verify_decryption_shares(params, keys.dealing, request, answers)
    assert check.rejected == ()
    combined = combine_decryption_shares(params, keys.dealing, check.verified)
    assert requester_decrypt(params, requester, request, combined) == b"K_pre of record 1"
    # Two shares are not enough: combining them as if t were 2 yields a wrong key.
    pair = check.verified[:2]
    lambdas = lagrange_at_zero([v.share.index for v in pair], params.order)
    wrong = group.gt_one
    for item, weight in zip(pair, lambdas, strict=True):
        wrong = wrong * item.share.value**weight
    with pytest.raises(DecryptionError):
        requester_decrypt(params, requester, request, wrong)


def _copy_network(network: Network, target: Path) -> Path:
    shutil.copytree(network.directory, target)
    return target


def test_a_node_refuses_a_share_that_is_not_its_own(
    network: Network, tmp_path: Path, group: Group
) -> None:
    root = _copy_network(network, tmp_path / "copy")
    home1, home2 = root / "node1", root / "node2"
    own = (home1 / DOMAIN_SHARE_FILE).read_bytes()
    other = (home2 / DOMAIN_SHARE_FILE).read_bytes()

    (home1 / DOMAIN_SHARE_FILE).write_bytes(other)
    with pytest.raises(ConfigError, match="is node 2's domain share; this is node 1"):
        load_identity(home1)

    # Node 2's box relabelled as node 1's: it does not open with node 1's box key.
    relabelled = SealedDomainShare(0, 1, SealedDomainShare.from_bytes(other).sealed)
    (home1 / DOMAIN_SHARE_FILE).write_bytes(relabelled.to_bytes())
    with pytest.raises(ConfigError, match="not this node's share of the genesis domain key"):
        load_identity(home1)

    # Node 1's share of another network's dealing, sealed to this node: wrong VK_1.
    params = setup(group)
    stranger = DomainKeyShare(1, params.random_scalar())
    node1_box = network.genesis.nodes[0].box_public_key()
    forged = SealedDomainShare(0, 1, node1_box.seal(stranger.to_bytes()))
    (home1 / DOMAIN_SHARE_FILE).write_bytes(forged.to_bytes())
    with pytest.raises(ConfigError, match="does not match the dealing"):
        load_identity(home1)

    (home1 / DOMAIN_SHARE_FILE).write_bytes(SealedDomainShare(1, 1, b"x").to_bytes())
    with pytest.raises(ConfigError, match="epoch 1; the genesis deals epoch 0"):
        load_identity(home1)
    (home1 / DOMAIN_SHARE_FILE).write_bytes(b"not a share")
    with pytest.raises(ConfigError, match="is not a sealed domain share"):
        load_identity(home1)
    (home1 / DOMAIN_SHARE_FILE).unlink()
    with pytest.raises(ConfigError, match="domain_share is missing"):
        load_identity(home1)

    (home1 / DOMAIN_SHARE_FILE).write_bytes(own)
    assert load_identity(home1).domain_share is not None


def test_the_authority_directory_is_not_silently_replaced(
    network: Network, tmp_path: Path
) -> None:
    root = _copy_network(network, tmp_path / "again")
    master = (root / "authority" / "fame_master_key").read_bytes()
    (root / "network.json").unlink()  # as if only the authority directory were left
    with pytest.raises(LayoutError, match="fame_master_key exists"):
        create_network(root, 4, threshold=3)
    assert (root / "authority" / "fame_master_key").read_bytes() == master
    again = create_network(root, 3, overwrite=True)
    assert (root / "authority" / "fame_master_key").read_bytes() != master
    shares = sorted(p.name for p in (root / "authority" / "domain_shares").iterdir())
    assert shares == [f"node{i}.domain_share" for i in (1, 2, 3)]
    assert again.genesis.domain is not None


def test_operators_install_their_shares_with_the_genesis(tmp_path: Path, group: Group) -> None:
    homes = [tmp_path / f"host{i}" for i in range(1, 5)]
    for i, home in enumerate(homes):
        init_node_home(home, p2p_port=32200 + 2 * i, http_port=32201 + 2 * i)
    infos = [NodePublicInfo.of_home(home) for home in homes]
    authority = tmp_path / "authority"
    save_secret(authority / "authority_key", SigningKey.generate().seed())
    genesis, shares = assemble_with_authority(infos, "ops-chain", authority, group)
    assert genesis.domain is not None
    assert [s.index for s in shares] == [1, 2, 3, 4]
    assert (authority / "domain_shares" / "node3.domain_share").read_bytes() == (
        shares[2].to_bytes()
    )

    with pytest.raises(ConfigError, match="give this node's share"):
        install_genesis(homes[0], genesis, infos)
    with pytest.raises(ConfigError, match="is node 2's domain share; this is node 1"):
        install_genesis(homes[0], genesis, infos, domain_share=shares[1])
    assert not (homes[0] / "genesis.json").exists()
    assert not (homes[0] / DOMAIN_SHARE_FILE).exists()

    for home, share in zip(homes, shares, strict=True):
        install_genesis(home, genesis, infos, domain_share=share)
        assert load_identity(home).domain_share is not None
    # Installing the same genesis again keeps the share the home holds.
    assert install_genesis(homes[2], genesis, infos) == 3
    assert load_identity(homes[2]).domain_share is not None
