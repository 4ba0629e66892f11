"""Seed 000's device encryption, edge re-encryption and domain decryption, on both backends."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.dual import (
    DeviceCiphertext,
    DevicePublicKey,
    DeviceSecretKey,
    DomainPublicKey,
    DomainSecretKey,
    DualParams,
    NormalizedCiphertext,
    ProofContext,
    ReKey,
    decrypt_with_domain_key,
    encrypt_dct,
    reencrypt_ecl,
    rekey_gen,
    rekey_update,
    setup,
    verify_rekey,
)
from crypto.errors import DecodeError, DecryptionError, VerificationError
from crypto.groups import Group, load_group

CONTEXT = ProofContext(b"record-1", b"owner-1")


@pytest.fixture(scope="module")
def params(group: Group) -> DualParams:
    return setup(group)


def _examples(params: DualParams, mcl: int) -> int:
    return mcl if params.group.name == "mcl" else 1


def test_generators_are_distinct_and_fixed(params: DualParams) -> None:
    gammas = [params.gamma1, params.gamma2, params.gamma3]
    assert len({bytes(g) for g in gammas}) == 3
    assert all(g != params.group.g2 for g in gammas)
    assert setup(params.group) is params
    assert params.i0 == params.group.pairing(params.g0, params.gamma1)


def test_encrypt_reencrypt_decrypt(params: DualParams) -> None:
    device, domain = DeviceSecretKey.generate(params), DomainSecretKey.generate(params)
    rekey = rekey_gen(params, device, domain.public_key(params))

    @settings(max_examples=_examples(params, 25))
    @given(st.binary(max_size=4096), st.binary(max_size=32))
    def check(data: bytes, associated: bytes) -> None:
        sealed = encrypt_dct(params, device.public_key(params), data, associated, context=CONTEXT)
        normalized = reencrypt_ecl(params, sealed, rekey)
        assert normalized.c0 == sealed.c0
        assert normalized.c1 == sealed.c1
        assert decrypt_with_domain_key(params, domain, normalized, associated) == data

    check()


def test_large_payload(mcl: Group) -> None:
    params = setup(mcl)
    device, domain = DeviceSecretKey.generate(params), DomainSecretKey.generate(params)
    data = os.urandom(3 * 1024 * 1024 + 5)
    sealed = encrypt_dct(params, device.public_key(params), data, context=CONTEXT)
    normalized = reencrypt_ecl(params, sealed, rekey_gen(params, device, domain.public_key(params)))
    assert decrypt_with_domain_key(params, domain, normalized) == data


def test_rekey_is_publicly_checkable(params: DualParams) -> None:
    device, other = DeviceSecretKey.generate(params), DeviceSecretKey.generate(params)
    domain = DomainSecretKey.generate(params)
    device_pk, domain_pk = device.public_key(params), domain.public_key(params)
    rekey = rekey_gen(params, device, domain_pk)
    verify_rekey(params, device_pk, domain_pk, rekey)
    with pytest.raises(VerificationError):
        verify_rekey(params, other.public_key(params), domain_pk, rekey)
    other_domain = DomainSecretKey.generate(params).public_key(params)
    with pytest.raises(VerificationError):
        verify_rekey(params, device_pk, other_domain, rekey)


def test_wrong_rekey_or_domain_key_fails_cleanly(params: DualParams) -> None:
    device, other = DeviceSecretKey.generate(params), DeviceSecretKey.generate(params)
    domain = DomainSecretKey.generate(params)
    sealed = encrypt_dct(params, device.public_key(params), b"reading", context=CONTEXT)
    # The edge used another device's re-encryption key.
    wrong = reencrypt_ecl(params, sealed, rekey_gen(params, other, domain.public_key(params)))
    with pytest.raises(DecryptionError):
        decrypt_with_domain_key(params, domain, wrong)
    right = reencrypt_ecl(params, sealed, rekey_gen(params, device, domain.public_key(params)))
    with pytest.raises(DecryptionError):
        decrypt_with_domain_key(params, DomainSecretKey.generate(params), right)


def test_rekey_update_retires_the_old_domain_key(params: DualParams) -> None:
    device = DeviceSecretKey.generate(params)
    old, new = DomainSecretKey.generate(params), DomainSecretKey.generate(params)
    device_pk = device.public_key(params)
    old_record = reencrypt_ecl(
        params,
        encrypt_dct(params, device_pk, b"before", context=CONTEXT),
        rekey_gen(params, device, old.public_key(params)),
    )
    # ReKeyUpdate: only the edge key changes; the device keeps encrypting exactly as before.
    (updated,) = rekey_update(params, [device], new.public_key(params))
    new_record = reencrypt_ecl(
        params, encrypt_dct(params, device_pk, b"after", context=CONTEXT), updated
    )
    assert decrypt_with_domain_key(params, new, new_record) == b"after"
    with pytest.raises(DecryptionError):
        decrypt_with_domain_key(params, old, new_record)
    # Records normalized before the update stay under the key they were made for.
    assert decrypt_with_domain_key(params, old, old_record) == b"before"


def test_tampering_is_detected(params: DualParams) -> None:
    device, domain = DeviceSecretKey.generate(params), DomainSecretKey.generate(params)
    rekey = rekey_gen(params, device, domain.public_key(params))
    record = reencrypt_ecl(
        params, encrypt_dct(params, device.public_key(params), b"bp", b"ad", context=CONTEXT), rekey
    )
    other = reencrypt_ecl(
        params, encrypt_dct(params, device.public_key(params), b"bp", b"ad", context=CONTEXT), rekey
    )
    body = bytearray(record.body)
    body[-1] ^= 1
    for bad in [
        NormalizedCiphertext(record.c0, record.c1, record.c2, record.proof, bytes(body)),
        NormalizedCiphertext(other.c0, record.c1, record.c2, record.proof, record.body),
        NormalizedCiphertext(record.c0, record.c1, other.c2, record.proof, record.body),
    ]:
        with pytest.raises(DecryptionError):
            decrypt_with_domain_key(params, domain, bad, b"ad")
    with pytest.raises(DecryptionError):
        decrypt_with_domain_key(params, domain, record, b"other ad")


def test_encodings_round_trip(params: DualParams) -> None:
    device, domain = DeviceSecretKey.generate(params), DomainSecretKey.generate(params)
    device_pk, domain_pk = device.public_key(params), domain.public_key(params)
    rekey = rekey_gen(params, device, domain_pk)
    assert DevicePublicKey.from_bytes(params, device_pk.to_bytes()) == device_pk
    assert DomainPublicKey.from_bytes(params, domain_pk.to_bytes()) == domain_pk
    assert ReKey.from_bytes(params, rekey.to_bytes()) == rekey
    assert DeviceSecretKey.from_bytes(device.to_bytes()).public_key(params) == device_pk
    assert DomainSecretKey.from_bytes(domain.to_bytes()).public_key(params) == domain_pk

    @settings(max_examples=_examples(params, 10))
    @given(st.binary(max_size=300))
    def check(data: bytes) -> None:
        sealed = encrypt_dct(params, device_pk, data, context=CONTEXT)
        assert DeviceCiphertext.from_bytes(params, sealed.to_bytes()) == sealed
        normalized = reencrypt_ecl(params, sealed, rekey)
        assert NormalizedCiphertext.from_bytes(params, normalized.to_bytes()) == normalized

    check()


def test_malformed_encodings_are_rejected(mcl: Group) -> None:
    params = setup(mcl)
    device = DeviceSecretKey.generate(params)
    pk = device.public_key(params).to_bytes()
    identity = pk[:2] + bytes(mcl.g1_identity()) + pk[2 + 48 :]
    sealed = encrypt_dct(params, device.public_key(params), b"x", context=CONTEXT).to_bytes()
    cases = [
        (DevicePublicKey.from_bytes, pk[:-1]),
        (DevicePublicKey.from_bytes, pk + b"\x00"),
        (DevicePublicKey.from_bytes, identity),
        (DeviceCiphertext.from_bytes, sealed[:-1]),
        (DeviceCiphertext.from_bytes, sealed[:2] + bytes(576) + sealed[578:]),
        (NormalizedCiphertext.from_bytes, sealed),
    ]
    for decode, data in cases:
        with pytest.raises(DecodeError):
            decode(params, data)
    with pytest.raises(DecodeError):
        DeviceSecretKey.from_bytes(device.to_bytes()[:2] + bytes(64))


def test_secrets_stay_out_of_repr(params: DualParams) -> None:
    device, domain = DeviceSecretKey.generate(params), DomainSecretKey.generate(params)
    assert str(device.u1) not in repr(device)
    assert str(domain.p2) not in repr(domain)


@pytest.mark.pyecc
def test_ciphertexts_cross_backends() -> None:
    # Encodings are byte-identical, so an edge on one backend serves devices on the other.
    fast, slow = setup(load_group("mcl")), setup(load_group("py_ecc"))
    assert bytes(fast.gamma2) == bytes(slow.gamma2)
    device, domain = DeviceSecretKey.generate(fast), DomainSecretKey.generate(fast)
    sealed = encrypt_dct(fast, device.public_key(fast), b"cross", context=CONTEXT)
    rekey = rekey_gen(slow, device, domain.public_key(slow))
    normalized = reencrypt_ecl(slow, DeviceCiphertext.from_bytes(slow, sealed.to_bytes()), rekey)
    moved = NormalizedCiphertext.from_bytes(fast, normalized.to_bytes())
    assert decrypt_with_domain_key(fast, domain, moved) == b"cross"
