"""The dual key split: DEK = HKDF(record id, K_pre, K_abe); one part alone opens nothing; the
key check a record commits for its ABE binding; stored vectors of record versions 2 and 3.

Set IOMTSHARE_REGEN_VECTORS=1 to rewrite tests/vectors/dual_record_vectors.json after a
deliberate format change.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from pathlib import Path

import pytest

from crypto.abe import (
    DualRecord,
    FameMasterKey,
    UnsatisfiedPolicyError,
    abe_binding,
    keygen,
    open_record,
    recover_abe_part,
    seal_record,
    setup,
)
from crypto.abe.dual import binding_matches, data_key, key_check, read_key_check
from crypto.abe.keys import FameSecretKey
from crypto.errors import DecodeError, DecryptionError
from crypto.groups import Group
from crypto.policy import parse

POLICY = parse("role:doctor and dept:cardiology")
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "dual_record_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"
FIXED_SCALARS = (3, 5, 7, 11, 13, 17, 19)


@pytest.fixture(scope="module")
def master(mcl: Group) -> FameMasterKey:
    return setup(mcl)


def test_both_parts_open_the_record(master: FameMasterKey) -> None:
    record, pre_part = seal_record(master.public, POLICY, b"record-7", b"ECG trace")
    key = keygen(master, ["role:doctor", "dept:cardiology"])
    abe_part = recover_abe_part(master.public, key, record)
    assert open_record(record, pre_part, abe_part) == b"ECG trace"
    assert abe_binding(b"record-7", abe_part) != abe_binding(b"record-8", abe_part)


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


def test_the_record_commits_the_key_check_of_its_binding(master: FameMasterKey) -> None:
    record, _pre_part = seal_record(master.public, POLICY, b"record-7", b"ECG trace")
    doctor = keygen(master, ["role:doctor", "dept:cardiology"])
    binding = abe_binding(b"record-7", recover_abe_part(master.public, doctor, record))
    assert record.key_check == key_check(binding)
    assert read_key_check(record.to_bytes()) == record.key_check
    assert binding_matches(record.key_check, binding)
    for wrong in (bytes(32), key_check(binding), abe_binding(b"record-8", bytes(32))):
        assert not binding_matches(record.key_check, wrong)
    # The check does not reveal the binding, nor the binding K_abe: one-way hashes each.
    assert binding not in record.to_bytes()


def test_a_version_2_record_has_no_key_check(mcl: Group, master: FameMasterKey) -> None:
    record, pre_part = seal_record(master.public, POLICY, b"record-7", b"ECG trace")
    legacy = dataclasses.replace(record, key_check=None)
    data = legacy.to_bytes()
    assert data[1] == 2
    assert record.to_bytes()[1] == 3
    assert len(record.to_bytes()) == len(data) + 32
    assert DualRecord.from_bytes(data, mcl) == legacy
    assert read_key_check(data) is None
    doctor = keygen(master, ["role:doctor", "dept:cardiology"])
    assert open_record(legacy, pre_part, recover_abe_part(master.public, doctor, legacy)) == (
        b"ECG trace"
    )


@pytest.mark.parametrize("version", [1, 4])
def test_unknown_versions_and_tags_are_refused(
    mcl: Group, master: FameMasterKey, version: int
) -> None:
    data = seal_record(master.public, POLICY, b"record-7", b"x")[0].to_bytes()
    for damaged in (data[:1] + bytes([version]) + data[2:], bytes([data[0] ^ 1]) + data[1:]):
        with pytest.raises(DecodeError):
            read_key_check(damaged)
        with pytest.raises(DecodeError):
            DualRecord.from_bytes(damaged, mcl)
    with pytest.raises(DecodeError):
        read_key_check(data[:20])


def _build_vectors(group: Group) -> dict[str, object]:
    master = setup(group, FIXED_SCALARS)
    key = keygen(master, ["role:doctor", "dept:cardiology"])
    record, pre_part = seal_record(master.public, POLICY, b"record-7", b"ECG trace")
    legacy, legacy_pre = seal_record(master.public, POLICY, b"record-6", b"older trace")
    legacy = dataclasses.replace(legacy, key_check=None)
    return {
        "scalars": list(FIXED_SCALARS),
        "secret_key": key.to_bytes().hex(),
        "plaintexts": {"v3": "ECG trace", "v2": "older trace"},
        "v3_record": record.to_bytes().hex(),
        "v3_pre_part": pre_part.hex(),
        "v3_abe_binding": abe_binding(
            record.record_id, recover_abe_part(master.public, key, record)
        ).hex(),
        "v2_record": legacy.to_bytes().hex(),
        "v2_pre_part": legacy_pre.hex(),
    }


def test_stored_vectors(mcl: Group) -> None:
    if REGENERATE:
        VECTORS.write_text(json.dumps(_build_vectors(mcl), indent=2) + "\n")
    stored = json.loads(VECTORS.read_text())
    master = setup(mcl, stored["scalars"])
    key = FameSecretKey.from_bytes(bytes.fromhex(stored["secret_key"]), mcl)
    for version in ("v3", "v2"):
        data = bytes.fromhex(stored[f"{version}_record"])
        record = DualRecord.from_bytes(data, mcl)
        assert record.to_bytes() == data
        abe_part = recover_abe_part(master.public, key, record)
        pre_part = bytes.fromhex(stored[f"{version}_pre_part"])
        assert open_record(record, pre_part, abe_part) == stored["plaintexts"][version].encode()
        if version == "v2":
            assert record.key_check is None
            assert read_key_check(data) is None
            continue
        binding = abe_binding(record.record_id, abe_part)
        assert binding.hex() == stored["v3_abe_binding"]
        assert read_key_check(data) == record.key_check == key_check(binding)
