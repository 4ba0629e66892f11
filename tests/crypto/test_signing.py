"""Ed25519 keys: verification, and the memo that spares repeated checks of one signature."""

from __future__ import annotations

import nacl.signing
import pytest

from crypto import signing
from crypto.errors import VerificationError
from crypto.signing import SigningKey, VerifiedSignatures


class CountingNacl:
    """Stands in for pynacl's VerifyKey and counts the verifications that reach it."""

    calls = 0

    def __init__(self, raw: bytes) -> None:
        self._key = nacl.signing.VerifyKey(raw)

    def verify(self, message: bytes, signature: bytes) -> bytes:
        CountingNacl.calls += 1
        return bytes(self._key.verify(message, signature))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> type[CountingNacl]:
    CountingNacl.calls = 0
    monkeypatch.setattr(signing, "_NaclVerifyKey", CountingNacl)
    monkeypatch.setattr(signing, "VERIFIED", VerifiedSignatures(4))
    return CountingNacl


def test_a_signature_that_verified_is_not_verified_again(counted: type[CountingNacl]) -> None:
    key = SigningKey.generate()
    signature = key.sign(b"vote")
    key.verify_key.verify(b"vote", signature)
    key.verify_key.verify(b"vote", signature)
    assert counted.calls == 1


def test_bad_signatures_fail_every_time_and_are_never_remembered(
    counted: type[CountingNacl],
) -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    signature = key.sign(b"vote")
    for _ in range(2):
        with pytest.raises(VerificationError):
            key.verify_key.verify(b"another vote", signature)
        with pytest.raises(VerificationError):
            other.verify_key.verify(b"vote", signature)
    assert counted.calls == 4
    assert len(signing.VERIFIED) == 0


def test_the_memo_keeps_the_newest_signatures_only(counted: type[CountingNacl]) -> None:
    key = SigningKey.generate()
    messages = [b"m%d" % i for i in range(5)]
    signatures = [key.sign(m) for m in messages]
    for message, signature in zip(messages, signatures, strict=True):
        key.verify_key.verify(message, signature)
    assert len(signing.VERIFIED) == 4
    key.verify_key.verify(messages[4], signatures[4])
    assert counted.calls == 5
    key.verify_key.verify(messages[0], signatures[0])  # the oldest was dropped
    assert counted.calls == 6


def test_the_memo_needs_room() -> None:
    with pytest.raises(ValueError, match="room"):
        VerifiedSignatures(0)
