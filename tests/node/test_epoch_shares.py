"""A node's shares of the domain-key epochs dealt on chain (``node.domain_share.EpochShares``)."""

from __future__ import annotations

import dataclasses
import logging
import stat
from pathlib import Path

import pytest

from client.authority import domain_rotation
from crypto.abe import fame
from crypto.dual import (
    DecryptionRequest,
    DomainKeyShare,
    ProofContext,
    decryption_share,
    encrypt_to_domain,
    setup,
    verify_ciphertext,
    verify_decryption_share,
)
from crypto.errors import VerificationError
from crypto.groups import load_group
from ledger.authority_keys import check_domain_keys
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from node.domain_share import EpochShares, epoch_share_path


def keyed_chain() -> tuple[ChainFixture, Ledger]:
    """A 4-node chain (t = 3) whose genesis deals epoch 0 of a domain key."""
    fx = ChainFixture(nodes=4, seed=b"epoch-shares")
    group = load_group()
    genesis_epoch = domain_rotation(fx.genesis, group, 0, fx.genesis.threshold)
    fx.genesis = dataclasses.replace(
        fx.genesis,
        domain=genesis_epoch.domain,
        fame_public_key=fame.setup(group).public.to_bytes(),
    )
    return fx, Ledger.from_store(MemoryStore(), fx.genesis)


def rotate(fx: ChainFixture, ledger: Ledger, epoch: int) -> None:
    tx = domain_rotation(fx.genesis, load_group(), epoch, fx.genesis.threshold, "test")
    fx.commit(ledger, [tx.signed(fx.authority_key, fx.chain_id)])


def matches_vk(ledger: Ledger, epoch: int, share: DomainKeyShare) -> bool:
    domain = ledger.domain_keys(epoch)
    assert domain is not None
    _, dealing = check_domain_keys(domain, load_group(), "domain")
    return bool(setup(load_group()).gamma2 * share.sigma == dealing.verification_key(share.index))


def shares_of(fx: ChainFixture, ledger: Ledger, index: int, home: Path | None) -> EpochShares:
    genesis_share = DomainKeyShare(index, 1)  # stands in for HOME/domain_share
    return EpochShares(ledger, index, fx.node_box_key(index), load_group(), genesis_share, home)


def test_each_node_opens_its_share_of_a_rotated_epoch_and_keeps_it(tmp_path: Path) -> None:
    fx, ledger = keyed_chain()
    shares = shares_of(fx, ledger, 2, tmp_path)
    assert shares.share(1) is None  # not dealt yet
    rotate(fx, ledger, 1)
    rotate(fx, ledger, 2)
    for epoch in (1, 2):
        share = shares.share(epoch)
        assert share is not None
        assert share.index == 2
        assert matches_vk(ledger, epoch, share)
        kept = epoch_share_path(tmp_path, epoch)
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    sigmas = [getattr(shares.share(epoch), "sigma", None) for epoch in (0, 1, 2)]
    assert sigmas[0] == 1
    assert len(set(sigmas)) == 3
    # Another process of the same node finds the kept copy.
    again = shares_of(fx, ledger, 2, tmp_path)
    assert getattr(again.share(1), "sigma", None) == sigmas[1]


def test_every_node_gets_a_share_on_the_same_polynomial() -> None:
    fx, ledger = keyed_chain()
    rotate(fx, ledger, 1)
    for index in range(1, 5):
        share = shares_of(fx, ledger, index, None).share(1)
        assert share is not None
        assert matches_vk(ledger, 1, share)


def test_a_share_that_does_not_open_is_logged_and_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fx, ledger = keyed_chain()
    rotate(fx, ledger, 1)
    # Node 3's box key cannot open node 2's share: a kept copy of the wrong share is refused.
    donor = shares_of(fx, ledger, 2, tmp_path / "two")
    assert donor.share(1) is not None
    wrong = epoch_share_path(tmp_path / "three", 1)
    wrong.parent.mkdir(parents=True)
    wrong.write_bytes(epoch_share_path(tmp_path / "two", 1).read_bytes())
    with caplog.at_level(logging.ERROR, logger="iomtshare.node.domain_share"):
        assert shares_of(fx, ledger, 3, tmp_path / "three").share(1) is None
    assert "epoch 1" in caplog.text


def test_a_share_of_another_epoch_fails_verification() -> None:
    """Node 1 answering a record of epoch 2 with its (real) share of epoch 1 is caught by epoch
    2's VK_1, and the other way round."""
    fx, ledger = keyed_chain()
    rotate(fx, ledger, 1)
    rotate(fx, ledger, 2)
    group = load_group()
    params = setup(group)
    node = shares_of(fx, ledger, 1, None)
    shares = {epoch: node.share(epoch) for epoch in (1, 2)}
    context = ProofContext(b"r" * 32, b"o" * 32, b"chain")
    for epoch, other in ((1, 2), (2, 1)):
        domain = ledger.domain_keys(epoch)
        assert domain is not None
        public, dealing = check_domain_keys(domain, group, "domain")
        sealed = encrypt_to_domain(params, public.pk2, b"K_pre", context=context)
        request = DecryptionRequest(
            params, verify_ciphertext(params, sealed, context), params.g0 * 7, b"request"
        )
        own, stale = shares[epoch], shares[other]
        assert own is not None
        assert stale is not None
        verify_decryption_share(params, dealing, request, decryption_share(params, own, request))
        with pytest.raises(VerificationError):
            verify_decryption_share(
                params, dealing, request, decryption_share(params, stale, request)
            )
