"""Inclusion proofs of transactions and sharing results against certified headers.

A stored vector fixes the encodings of the four proof-protocol types and a proof that verifies
against the certified header beside it; regenerate it with
``IOMTSHARE_REGEN_VECTORS=1 pytest tests/ledger/test_inclusion.py``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from ledger.encoding import Encoded
from ledger.header_chain import CertifiedHeader, HeaderChain
from ledger.inclusion import (
    InvalidInclusion,
    ProofKind,
    ProofNotFound,
    ProofRequest,
    ResultInclusion,
    TxInclusion,
    decode_answer,
    prove,
    prove_decision,
    prove_transaction,
)
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from ledger.transactions import AccessRequest
from tests.ledger.strategies import for_type

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "inclusion_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"
PROOF_TYPES: list[type[Encoded]] = [TxInclusion, ResultInclusion, ProofRequest, ProofNotFound]


def grow(fx: ChainFixture, ledger: Ledger) -> list[AccessRequest]:
    """Blocks 3-5 on the conftest chain: bob's two granted requests and carol's denied one with
    their results in the same block (as nodes make them), five records in block 4 (an odd
    count), and a request whose result comes one block later (the ledger allows it)."""
    first, second = (fx.request("bob", "r1", at_ms=fx.time_at(3)) for _ in range(2))
    denied = fx.request("carol", "r1", at_ms=fx.time_at(3))
    fx.commit(
        ledger,
        [first, second, denied],
        [fx.result(first, granted=True), fx.result(second, granted=True),
         fx.result(denied, granted=False)],
    )
    later = fx.request("carol", "r1", at_ms=fx.time_at(4))
    records = [fx.put_record("alice", f"r{i}") for i in range(2, 6)]
    fx.commit(ledger, [*records, later])
    fx.commit(ledger, [], [fx.result(later, granted=False)])
    return [first, second, denied, later]


def headers_of(fx: ChainFixture, ledger: Ledger) -> HeaderChain:
    """An edge's header chain holding every committed header of ``ledger``, QCs checked."""
    chain = HeaderChain(MemoryStore(), fx.genesis)
    for height in range(1, ledger.height + 1):
        stored = ledger.block(height)
        assert stored is not None
        chain.extend(CertifiedHeader(stored.block.header, stored.commit_qc))
    return chain


def header(chain: HeaderChain, height: int) -> CertifiedHeader:
    certified = chain.get(height)
    assert certified is not None
    return certified


def test_every_transaction_and_decision_proves_against_its_header(
    fx: ChainFixture, ledger: Ledger
) -> None:
    requests = grow(fx, ledger)
    chain = headers_of(fx, ledger)
    seen = 0
    for height in range(1, ledger.height + 1):
        stored = ledger.block(height)
        assert stored is not None
        for position, tx in enumerate(stored.block.transactions):
            proof = prove_transaction(ledger, tx.tx_id())
            assert proof is not None
            assert (proof.height, proof.index, proof.count) == (
                height, position, len(stored.block.transactions)
            )
            assert proof.verify(header(chain, height)) == tx
            seen += 1
    assert seen == 6 + 2 + 3 + 5
    expected = {0: True, 1: True, 2: False, 3: False}
    for i, request in enumerate(requests):
        proof = prove_decision(ledger, request.tx_id())
        assert proof is not None
        assert proof.height == (5 if i == 3 else 3)
        result = proof.verify(header(chain, proof.height))
        assert (result.request_id, result.granted) == (request.tx_id(), expected[i])


def test_what_has_no_proof(fx: ChainFixture, ledger: Ledger) -> None:
    grow(fx, ledger)
    record_tx = tx_id_at(ledger, 2, 0)
    assert prove_transaction(ledger, b"\x01" * 32) is None
    assert prove_decision(ledger, b"\x01" * 32) is None
    assert prove_decision(ledger, record_tx) is None  # committed, but not an access request
    pending = fx.request("bob", "r1", at_ms=fx.time_at(6))
    fx.commit(ledger, [pending])
    assert prove_transaction(ledger, pending.tx_id()) is not None
    assert prove_decision(ledger, pending.tx_id()) is None  # not decided yet
    answer = prove(ledger, ProofRequest(ProofKind.DECISION, pending.tx_id()))
    assert isinstance(answer, ProofNotFound)
    assert answer.item_id == pending.tx_id()
    assert isinstance(prove(ledger, ProofRequest(ProofKind.TRANSACTION, record_tx)), TxInclusion)
    with pytest.raises(ValueError, match="ProofKind"):
        prove(ledger, ProofRequest(9, record_tx))


def tx_id_at(ledger: Ledger, height: int, position: int) -> bytes:
    stored = ledger.block(height)
    assert stored is not None
    return stored.block.transactions[position].tx_id()


def test_forged_proofs_are_refused(fx: ChainFixture, ledger: Ledger) -> None:
    requests = grow(fx, ledger)
    chain = headers_of(fx, ledger)
    proof = prove_transaction(ledger, tx_id_at(ledger, 4, 1))
    other = prove_transaction(ledger, requests[0].tx_id())
    assert proof is not None
    assert other is not None
    assert proof.height == 4
    right = header(chain, 4)
    flipped = (bytes([proof.path[0][0] ^ 1]) + proof.path[0][1:], *proof.path[1:])
    forgeries = {
        "wrong path": dataclasses.replace(proof, path=flipped),
        "short path": dataclasses.replace(proof, path=proof.path[:-1]),
        "wrong index": dataclasses.replace(proof, index=proof.index ^ 1),
        "too few leaves": dataclasses.replace(proof, count=proof.index + 1),
        "tx not in block": dataclasses.replace(proof, transaction=other.transaction),
    }
    for forged in forgeries.values():
        with pytest.raises(InvalidInclusion, match="not leaf"):
            forged.verify(right)
    # A proof for one height checked against another height's header, however it is labelled.
    with pytest.raises(InvalidInclusion, match="height"):
        proof.verify(header(chain, 3))
    with pytest.raises(InvalidInclusion, match="root"):
        dataclasses.replace(proof, height=3).verify(header(chain, 3))
    # A result proven under tx_root's tree, or a result changed after the fact.
    decision = prove_decision(ledger, requests[0].tx_id())
    assert decision is not None
    with pytest.raises(InvalidInclusion):
        dataclasses.replace(
            decision, result=dataclasses.replace(decision.result, granted=False)
        ).verify(header(chain, 3))
    swapped = TxInclusion(3, requests[0], 0, 3, decision.path)
    with pytest.raises(InvalidInclusion):
        swapped.verify(header(chain, 3))


@pytest.mark.parametrize("cls", PROOF_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=30)
@given(data=st.data())
def test_round_trip_and_exact_decoding(cls: type[Encoded], data: st.DataObject) -> None:
    value = data.draw(for_type(cls))
    encoded = value.to_bytes()
    assert encoded[0] == cls.TAG
    assert cls.from_bytes(encoded) == value
    assert cls.from_bytes_by_field(encoded) == value
    if cls is not ProofRequest:
        assert decode_answer(encoded) == value
    newer = encoded[:1] + bytes([encoded[1] + 1]) + encoded[2:]
    for bad in (encoded + b"\x00", encoded[:-1], newer):
        with pytest.raises(DecodeError):
            cls.from_bytes(bad)


def test_decode_answer_refuses_other_types() -> None:
    with pytest.raises(DecodeError):
        decode_answer(ProofRequest(1, bytes(32)).to_bytes())
    with pytest.raises(DecodeError):
        decode_answer(b"")


def vector_values(fx: ChainFixture, ledger: Ledger) -> dict[str, Encoded]:
    requests = grow(fx, ledger)
    tx = prove_transaction(ledger, tx_id_at(ledger, 4, 2))
    result = prove_decision(ledger, requests[1].tx_id())
    assert tx is not None
    assert result is not None
    return {
        "tx_inclusion": tx,
        "result_inclusion": result,
        "proof_request": ProofRequest(ProofKind.DECISION, requests[1].tx_id()),
        "proof_not_found": ProofNotFound(ProofKind.TRANSACTION, bytes(32), "no such id"),
    }


def test_vector_replays(fx: ChainFixture, ledger: Ledger) -> None:
    values = vector_values(fx, ledger)
    chain = headers_of(fx, ledger)
    tx, result = values["tx_inclusion"], values["result_inclusion"]
    assert isinstance(tx, TxInclusion)
    assert isinstance(result, ResultInclusion)
    if REGENERATE:
        document = {
            "comment": "Proof protocol encodings; regenerate with IOMTSHARE_REGEN_VECTORS=1",
            **{name: value.to_bytes().hex() for name, value in values.items()},
            "tx_header": header(chain, tx.height).to_bytes().hex(),
            "result_header": header(chain, result.height).to_bytes().hex(),
        }
        VECTORS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    stored = json.loads(VECTORS.read_text(encoding="utf-8"))
    for name, value in values.items():
        assert value.to_bytes().hex() == stored[name], name
        assert type(value).from_bytes(bytes.fromhex(stored[name])) == value
    # The stored proofs verify against the stored headers, without any ledger.
    tx_header = CertifiedHeader.from_bytes(bytes.fromhex(stored["tx_header"]))
    result_header = CertifiedHeader.from_bytes(bytes.fromhex(stored["result_header"]))
    decoded_tx = TxInclusion.from_bytes(bytes.fromhex(stored["tx_inclusion"]))
    assert decoded_tx.verify(tx_header) == tx.transaction
    decoded_result = ResultInclusion.from_bytes(bytes.fromhex(stored["result_inclusion"]))
    assert decoded_result.verify(result_header) == result.result
