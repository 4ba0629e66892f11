"""Proof kinds 3 and 4 of the proofs protocol: a device's RegisterDevice, and the transaction
holding its ReKey of the latest epoch, found by device id and proven against the block header."""

from __future__ import annotations

from ledger.header_chain import CertifiedHeader
from ledger.inclusion import ProofKind, ProofNotFound, ProofRequest, TxInclusion, prove
from ledger.ledger import Ledger
from ledger.transactions import RegisterDevice, RekeyDevice, Transaction
from tests.ledger.test_devices import DeviceChain


def proven(ledger: Ledger, kind: ProofKind, device_id: bytes) -> Transaction:
    answer = prove(ledger, ProofRequest(kind, device_id))
    assert isinstance(answer, TxInclusion)
    stored = ledger.block(answer.height)
    assert stored is not None
    return answer.verify(CertifiedHeader(stored.block.header, stored.commit_qc))


def test_a_devices_registration_and_latest_rekey_are_proven_by_device_id() -> None:
    chain = DeviceChain()
    ledger = chain.ledger
    unknown = prove(ledger, ProofRequest(ProofKind.DEVICE_REGISTRATION, chain.device_id))
    assert isinstance(unknown, ProofNotFound)
    assert "no registered device" in unknown.reason
    assert isinstance(prove(ledger, ProofRequest(ProofKind.DEVICE_REKEY, chain.device_id)),
                      ProofNotFound)

    registration = chain.register()
    chain.fx.commit(ledger, [registration])
    assert proven(ledger, ProofKind.DEVICE_REGISTRATION, chain.device_id) == registration
    assert proven(ledger, ProofKind.DEVICE_REKEY, chain.device_id) == registration

    chain.rotate(1)
    # Rotated but not re-keyed: the latest ReKey is still the registration's (epoch 0).
    assert proven(ledger, ProofKind.DEVICE_REKEY, chain.device_id) == registration
    rekey = chain.rekey(1)
    chain.fx.commit(ledger, [rekey])
    latest = proven(ledger, ProofKind.DEVICE_REKEY, chain.device_id)
    assert isinstance(latest, RekeyDevice)
    assert (latest, latest.domain_epoch) == (rekey, 1)
    first = proven(ledger, ProofKind.DEVICE_REGISTRATION, chain.device_id)
    assert isinstance(first, RegisterDevice)
    assert first == registration
