"""Proof kind 5 of the proofs protocol: the RotateDomainKey that dealt the current domain epoch,
proven against the block header; typed not-found at the genesis epoch; and the pure check
(:mod:`ledger.domain_rotation`) an edge and a client run on what a node reports."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.groups import load_group
from crypto.signing import SigningKey
from ledger.domain_rotation import RotationRejected, checked_rotation, domain_public_key
from ledger.header_chain import CertifiedHeader
from ledger.inclusion import NO_ITEM, ProofKind, ProofNotFound, ProofRequest, TxInclusion, prove
from ledger.ledger import Ledger
from ledger.transactions import RotateDomainKey, Transaction
from tests.ledger.test_devices import DeviceChain


def proven(ledger: Ledger) -> Transaction:
    answer = prove(ledger, ProofRequest(ProofKind.DOMAIN_ROTATION, NO_ITEM))
    assert isinstance(answer, TxInclusion)
    stored = ledger.block(answer.height)
    assert stored is not None
    return answer.verify(CertifiedHeader(stored.block.header, stored.commit_qc))


@given(st.binary(min_size=32, max_size=32))
def test_a_rotation_request_round_trips(item_id: bytes) -> None:
    request = ProofRequest(ProofKind.DOMAIN_ROTATION, item_id)
    assert ProofRequest.from_bytes(request.to_bytes()) == request
    answer = ProofNotFound(ProofKind.DOMAIN_ROTATION, item_id, "none")
    assert ProofNotFound.from_bytes(answer.to_bytes()) == answer


def test_the_latest_rotation_is_proven_and_the_genesis_epoch_is_not_found() -> None:
    chain = DeviceChain()
    ledger, genesis = chain.ledger, chain.fx.genesis
    at_genesis = prove(ledger, ProofRequest(ProofKind.DOMAIN_ROTATION, NO_ITEM))
    assert isinstance(at_genesis, ProofNotFound)
    assert "genesis epoch is current" in at_genesis.reason

    chain.rotate(1)
    first = proven(ledger)
    assert isinstance(first, RotateDomainKey)
    assert first.domain.epoch == 1
    chain.rotate(2)
    latest = checked_rotation(genesis, proven(ledger))
    assert latest.domain.epoch == 2
    assert domain_public_key(latest.domain, load_group()) == chain.domain_public[2].pk2

    # Any other item id is a typed not-found, never someone else's proof.
    other = prove(ledger, ProofRequest(ProofKind.DOMAIN_ROTATION, b"\x01" * 32))
    assert isinstance(other, ProofNotFound)
    assert "zero id" in other.reason


def test_a_rotation_not_signed_by_the_authority_or_with_bad_keys_is_rejected() -> None:
    chain = DeviceChain()
    genesis = chain.fx.genesis
    chain.rotate(1)
    rotation = proven(ledger=chain.ledger)
    assert isinstance(rotation, RotateDomainKey)
    forged = dataclasses.replace(rotation).signed(SigningKey.generate(), genesis.chain_id)
    with pytest.raises(RotationRejected, match="not the authority's"):
        checked_rotation(genesis, forged)
    with pytest.raises(RotationRejected, match="not a domain-key rotation"):
        checked_rotation(genesis, chain.register())
    keys = rotation.domain
    swapped = dataclasses.replace(keys, verification_keys=keys.verification_keys[::-1])
    with pytest.raises(RotationRejected):
        domain_public_key(swapped, load_group())
