"""Issued attribute keys without a network: encoding and vector, signature, sealing, key store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from client import KeyStoreError, MemberKeys, save_member
from client.attribute_keys import AttributeKeyError, IssuedAttributeKey
from client.keystore import load_attribute_key, save_issued_key
from crypto.abe import UnsatisfiedPolicyError, fame, open_envelope, seal
from crypto.errors import DecodeError
from crypto.groups import Group, load_group
from crypto.policy import parse as parse_policy
from crypto.signing import SigningKey

AUTHORITY = SigningKey(bytes(range(32)))
#: IssuedAttributeKey("chain", 01.., seq 2, head 02.., two attributes, b"sealed") signed by
#: AUTHORITY: tag 0xF1, version 1, the fields, then the Ed25519 signature.
VECTOR = (
    "f10100000005636861696e0101010101010101010101010101010101010101010101010101010101010101"
    "000000020202020202020202020202020202020202020202020202020202020202020202000000020000000f"
    "646570743a63617264696f6c6f67790000000b726f6c653a646f63746f72000000067365616c6564827f95"
    "08a2723e9489333ef5e310edba712dec361d678c74db419ffa3b9fb37345fa4ecf50020153abb85879bb81"
    "3c626e3fb1ec1f6de5be4bc4c5984ea63209"
)


@pytest.fixture(scope="module")
def group() -> Group:
    return load_group("mcl")


def sample() -> IssuedAttributeKey:
    return IssuedAttributeKey(
        "chain", b"\x01" * 32, 2, b"\x02" * 32, ("dept:cardiology", "role:doctor"), b"sealed"
    ).signed(AUTHORITY)


def test_encoding_matches_the_vector_and_is_strict() -> None:
    issued = sample()
    assert issued.to_bytes().hex() == VECTOR
    assert IssuedAttributeKey.from_bytes(bytes.fromhex(VECTOR)) == issued
    encoded = issued.to_bytes()
    for bad in (encoded + b"\x00", encoded[:-1], b"\xf0" + encoded[1:]):
        with pytest.raises(DecodeError):
            IssuedAttributeKey.from_bytes(bad)
    with pytest.raises(DecodeError, match="sorted and distinct"):
        dataclasses.replace(issued, attributes=("role:doctor", "dept:cardiology"))


def test_the_signature_covers_every_field() -> None:
    issued = sample()
    issued.verify(AUTHORITY.verify_key)
    with pytest.raises(AttributeKeyError, match="not signed by the authority"):
        issued.verify(SigningKey.generate().verify_key)
    for change in (
        {"chain_id": "other"},
        {"attribute_seq": 3},
        {"attributes": ("dept:cardiology", "role:doctor", "trial:x")},
        {"sealed_key": b"sealeD"},
    ):
        with pytest.raises(AttributeKeyError):
            dataclasses.replace(issued, **change).verify(AUTHORITY.verify_key)


def test_a_member_stores_and_opens_its_key(group: Group, tmp_path: Path) -> None:
    master = fame.setup(group)
    doctor, other = MemberKeys.generate(group), MemberKeys.generate(group)
    save_member(tmp_path / "doctor", doctor)
    with pytest.raises(KeyStoreError, match="no attribute key"):
        load_attribute_key(tmp_path / "doctor", doctor, group)
    attributes = ("dept:cardiology", "role:doctor")
    key = fame.keygen(master, attributes)
    issued = IssuedAttributeKey(
        "chain", doctor.member_id, 0, b"\x07" * 32, attributes,
        doctor.box_key.public_key.seal(key.to_bytes()),
    ).signed(AUTHORITY)
    written = save_issued_key(tmp_path / "doctor", issued)
    assert written == tmp_path / "doctor" / "attribute_key"
    loaded, opened = load_attribute_key(tmp_path / "doctor", doctor, group)
    assert loaded == issued
    assert opened.attributes == frozenset(attributes)
    envelope = seal(master.public, parse_policy("role:doctor and dept:cardiology"), b"K_abe")
    assert open_envelope(master.public, opened, envelope) == b"K_abe"
    with pytest.raises(UnsatisfiedPolicyError):
        open_envelope(master.public, opened, seal(master.public, parse_policy("role:nurse"), b"x"))
    # Another member's client refuses the file; a box for someone else does not open.
    with pytest.raises(AttributeKeyError, match="was issued to member"):
        load_attribute_key(tmp_path / "doctor", other, group)
    with pytest.raises(AttributeKeyError, match="does not open"):
        issued.open(other.box_key, group)
    # A file naming attributes its sealed key does not carry is refused.
    padded = dataclasses.replace(issued, attributes=(*attributes, "trial:x"))
    with pytest.raises(AttributeKeyError, match="other attributes"):
        padded.open(doctor.box_key, group)
