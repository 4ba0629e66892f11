"""The edge turns a sensor upload into a dual-split record for the patient."""

from __future__ import annotations

import pytest

from crypto.abe import abe_binding, keygen, open_record, recover_abe_part, setup
from crypto.abe.dual import key_check
from crypto.abe.errors import UnsatisfiedPolicyError
from crypto.errors import DecryptionError
from crypto.groups import Group
from crypto.light import Authority, EdgeVerifier, ReplayError
from crypto.light.bridge import convert_upload
from crypto.light.patient import encrypt_reading, finish_registration, start_registration
from crypto.policy import parse
from crypto.tpre import decrypt_as_owner, generate_user_key

NOW = 1_800_000_000


def test_upload_becomes_a_record_only_policy_and_owner_together_open(mcl: Group) -> None:
    authority = Authority.setup()
    doctor, warrant = authority.register_user("doctor:alice", NOW + 3600)
    pending = start_registration("patient:bob", [doctor.user], authority.public, NOW)
    grant, record = authority.register_patient(pending.message, NOW)
    patient_key = finish_registration(pending, grant)
    edge = EdgeVerifier(authority.public)
    edge.add_warrant(warrant)
    edge.add_patient(record, authority.patient_key(record.temporary_id))

    fame = setup(mcl)
    owner = generate_user_key(mcl)
    policy = parse("role:doctor and dept:cardiology")
    upload = encrypt_reading(patient_key, b"bp=120/80", NOW)
    converted = convert_upload(edge, upload, NOW + 1, fame.public, policy, owner.public_key())
    assert converted.temporary_id == patient_key.temporary_id
    assert b"patient:bob" not in converted.record.to_bytes()

    pre_part = decrypt_as_owner(owner, converted.pre_part, converted.record.record_id)
    doctor_key = keygen(fame, ["role:doctor", "dept:cardiology"])
    abe_part = recover_abe_part(fame.public, doctor_key, converted.record)
    assert open_record(converted.record, pre_part, abe_part) == b"bp=120/80"
    binding = abe_binding(converted.record.record_id, abe_part)
    assert converted.record.key_check == key_check(binding)

    with pytest.raises(UnsatisfiedPolicyError):
        recover_abe_part(fame.public, keygen(fame, ["role:doctor"]), converted.record)
    with pytest.raises(DecryptionError):
        decrypt_as_owner(generate_user_key(mcl), converted.pre_part, converted.record.record_id)
    with pytest.raises(ReplayError):
        convert_upload(edge, upload, NOW + 2, fame.public, policy, owner.public_key())
