"""The dual key split: DEK = HKDF(record id, K_pre, K_abe); one part alone opens nothing."""

from __future__ import annotations

import secrets

import pytest

from crypto.abe import (
    FameMasterKey,
    UnsatisfiedPolicyError,
    access_token,
    keygen,
    open_record,
    recover_abe_part,
    seal_record,
    setup,
)
from crypto.abe.dual import data_key
from crypto.errors import DecryptionError
from crypto.groups import Group
from crypto.policy import parse

POLICY = parse("role:doctor and dept:cardiology")


@pytest.fixture(scope="module")
def master(mcl: Group) -> FameMasterKey:
    return setup(mcl)


def test_both_parts_open_the_record(master: FameMasterKey) -> None:
    record, pre_part = seal_record(master.public, POLICY, b"record-7", b"ECG trace")
    key = keygen(master, ["role:doctor", "dept:cardiology"])
    abe_part = recover_abe_part(master.public, key, record)
    assert open_record(record, pre_part, abe_part) == b"ECG trace"
    assert access_token(b"record-7", abe_part) != access_token(b"record-8", abe_part)


def test_pre_part_alone_is_useless(master: FameMasterKey) -> None:
    record, pre_part = seal_record(master.public, POLICY, b"record-7", b"ECG trace")
    nurse = keygen(master, ["role:nurse", "dept:cardiology"])
    with pytest.raises(UnsatisfiedPolicyError):
        recover_abe_part(master.public, nurse, record)
    for guess in (bytes(32), pre_part, secrets.token_bytes(32)):
        with pytest.raises(DecryptionError):
            open_record(record, pre_part, guess)


def test_abe_part_alone_is_useless(master: FameMasterKey) -> None:
    record, _pre_part = seal_record(master.public, POLICY, b"record-7", b"ECG trace")
    doctor = keygen(master, ["role:doctor", "dept:cardiology"])
    abe_part = recover_abe_part(master.public, doctor, record)
    for guess in (bytes(32), abe_part, secrets.token_bytes(32)):
        with pytest.raises(DecryptionError):
            open_record(record, guess, abe_part)


def test_parts_are_bound_to_the_record(master: FameMasterKey) -> None:
    record, pre_part = seal_record(master.public, POLICY, b"record-7", b"ECG trace")
    other, other_pre = seal_record(master.public, POLICY, b"record-8", b"other")
    doctor = keygen(master, ["role:doctor", "dept:cardiology"])
    abe_part = recover_abe_part(master.public, doctor, record)
    with pytest.raises(DecryptionError):
        open_record(other, other_pre, abe_part)
    moved = type(record)(b"record-8", record.header, record.body)
    with pytest.raises(DecryptionError):
        open_record(moved, pre_part, recover_abe_part(master.public, doctor, moved))


def test_data_key_depends_on_every_input() -> None:
    a, b = bytes(32), bytes([1]) * 32
    keys = {data_key(r, p, q) for r in (b"x", b"y") for p in (a, b) for q in (a, b)}
    assert len(keys) == 8
    with pytest.raises(ValueError, match="32 bytes"):
        data_key(b"x", b"short", a)
