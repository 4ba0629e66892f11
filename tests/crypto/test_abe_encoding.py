"""Canonical bytes of FAME keys, ciphertexts and dual records; stored vectors; both backends.

Set IOMTSHARE_REGEN_VECTORS=1 to rewrite tests/vectors/abe_vectors.json after a deliberate
format change.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.abe import (
    AttributeTermCache,
    DualRecord,
    FameCiphertext,
    FameEnvelope,
    FameMasterKey,
    FamePublicKey,
    FameSecretKey,
    decapsulate,
    encapsulate,
    keygen,
    seal,
    seal_record,
    setup,
    span_program,
)
from crypto.abe.terms import ATTRIBUTE_DST, COLUMN_DST, attribute_input, column_input
from crypto.errors import DecodeError
from crypto.groups import Group
from crypto.hashing import digest
from crypto.policy import Policy, parse
from tests.crypto.test_abe_support import UNIVERSE, attribute_sets, policies

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "abe_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"
FIXED_SCALARS = (3, 5, 7, 11, 13, 17, 19)
VECTOR_POLICY = "att:a and (att:b or 2 of (att:c, att:d, att:e))"


@pytest.fixture(scope="module")
def master(mcl: Group) -> FameMasterKey:
    return setup(mcl)


@pytest.fixture(scope="module")
def cache(mcl: Group) -> AttributeTermCache:
    return AttributeTermCache(mcl)


def _refuses_damage(data: bytes, decode: object) -> None:
    for damaged in (data + b"\x00", data[:-1], bytes([data[0] ^ 1]) + data[1:]):
        with pytest.raises(DecodeError):
            decode(damaged)  # type: ignore[operator]


@settings(max_examples=10)
@given(policy=policies(), attributes=attribute_sets)
def test_round_trips(
    mcl: Group,
    master: FameMasterKey,
    cache: AttributeTermCache,
    policy: Policy,
    attributes: set[str],
) -> None:
    key = keygen(master, attributes, cache)
    assert FameSecretKey.from_bytes(key.to_bytes(), mcl) == key
    _refuses_damage(key.to_bytes(), lambda b: FameSecretKey.from_bytes(b, mcl))
    _, header = encapsulate(master.public, policy, cache)
    assert FameCiphertext.from_bytes(header.to_bytes(), mcl) == header
    _refuses_damage(header.to_bytes(), lambda b: FameCiphertext.from_bytes(b, mcl))
    envelope = FameEnvelope(header, b"body")
    assert FameEnvelope.from_bytes(envelope.to_bytes(), mcl) == envelope
    record, _ = seal_record(master.public, policy, b"rec-1", b"data", cache)
    legacy = dataclasses.replace(record, key_check=None)  # version 2, without the key check
    for dual in (record, legacy):
        assert DualRecord.from_bytes(dual.to_bytes(), mcl) == dual
        _refuses_damage(dual.to_bytes(), lambda b: DualRecord.from_bytes(b, mcl))


def test_master_and_public_key_round_trip(mcl: Group, master: FameMasterKey) -> None:
    assert FameMasterKey.from_bytes(master.to_bytes(), mcl) == master
    assert FamePublicKey.from_bytes(master.public.to_bytes(), mcl) == master.public
    _refuses_damage(master.public.to_bytes(), lambda b: FamePublicKey.from_bytes(b, mcl))
    text = repr(master)
    assert all(str(value) not in text for value in master.scalars())


def test_ciphertext_row_count_must_match_policy(mcl: Group, master: FameMasterKey) -> None:
    _, header = encapsulate(master.public, parse("att:a and att:b"))
    with pytest.raises(DecodeError):
        FameCiphertext(parse("att:a"), header.ct0, header.rows)


@pytest.mark.pyecc
def test_keys_and_ciphertexts_move_between_backends(mcl: Group, pyecc: Group) -> None:
    master = setup(mcl, FIXED_SCALARS)
    policy = parse("att:a and 2 of (att:b, att:c, att:d)")
    secret, header = encapsulate(master.public, policy)
    key = keygen(master, ["att:a", "att:c", "att:d"])
    public_py = FamePublicKey.from_bytes(master.public.to_bytes(), pyecc)
    key_py = FameSecretKey.from_bytes(key.to_bytes(), pyecc)
    header_py = FameCiphertext.from_bytes(header.to_bytes(), pyecc)
    assert bytes(decapsulate(public_py, key_py, header_py)) == bytes(secret)


def _build_vectors(group: Group) -> dict[str, object]:
    master = setup(group, FIXED_SCALARS)
    policy = parse(VECTOR_POLICY)
    secret, header = encapsulate(master.public, policy)
    key = keygen(master, ["att:a", "att:c", "att:e"])
    program = span_program(policy)
    return {
        "scalars": list(FIXED_SCALARS),
        "public_key": master.public.to_bytes().hex(),
        "attribute_term_01_1_1": bytes(
            group.hash_to_g1(attribute_input("01", 1, 1), ATTRIBUTE_DST)
        ).hex(),
        "column_term_0_1_1": bytes(group.hash_to_g1(column_input(0, 1, 1), COLUMN_DST)).hex(),
        "policy": VECTOR_POLICY,
        "span_program": [program.dense_row(i) for i in range(len(program.labels))],
        "secret_key": key.to_bytes().hex(),
        "ciphertext": header.to_bytes().hex(),
        "secret_digest": digest(b"iomtshare/test/abe-secret", bytes(secret)).hex(),
    }


def test_stored_vectors(mcl: Group) -> None:
    if REGENERATE:
        VECTORS.write_text(json.dumps(_build_vectors(mcl), indent=2) + "\n")
    stored = json.loads(VECTORS.read_text())
    master = setup(mcl, stored["scalars"])
    assert master.public.to_bytes().hex() == stored["public_key"]
    assert (
        bytes(mcl.hash_to_g1(attribute_input("01", 1, 1), ATTRIBUTE_DST)).hex()
        == stored["attribute_term_01_1_1"]
    )
    assert (
        bytes(mcl.hash_to_g1(column_input(0, 1, 1), COLUMN_DST)).hex()
        == stored["column_term_0_1_1"]
    )
    program = span_program(parse(stored["policy"]))
    assert [program.dense_row(i) for i in range(len(program.labels))] == stored["span_program"]
    # A stored key opens a stored ciphertext to the stored secret: the format is stable.
    key = FameSecretKey.from_bytes(bytes.fromhex(stored["secret_key"]), mcl)
    header = FameCiphertext.from_bytes(bytes.fromhex(stored["ciphertext"]), mcl)
    assert key.to_bytes().hex() == stored["secret_key"]
    secret = decapsulate(master.public, key, header)
    assert digest(b"iomtshare/test/abe-secret", bytes(secret)).hex() == stored["secret_digest"]


@settings(max_examples=3)
@given(st.sampled_from(UNIVERSE))
def test_envelope_bytes_survive_transport(
    mcl: Group, master: FameMasterKey, cache: AttributeTermCache, name: str
) -> None:
    envelope = seal(master.public, parse(name), b"payload", cache=cache)
    again = FameEnvelope.from_bytes(envelope.to_bytes(), mcl)
    assert again.to_bytes() == envelope.to_bytes()


def test_degenerate_public_key_is_refused(mcl: Group, master: FameMasterKey) -> None:
    public = master.public
    degenerate = FamePublicKey.build(mcl, public.h1, public.h2, mcl.gt_one, public.t2)
    with pytest.raises(DecodeError, match="degenerate"):
        FamePublicKey.from_bytes(degenerate.to_bytes(), mcl)
