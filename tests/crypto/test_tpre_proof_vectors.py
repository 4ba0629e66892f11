"""Stored share proofs: pin the Fiat-Shamir challenge and both ways the prover draws T.

The encodings vector (tests/vectors/tpre_objects.json) only fixes the byte layout of a share.
This one stores real proofs made by the prover once, with their challenges, and checks that
today's verifier still accepts them and today's challenge function still gives the same values,
so any change of the hash input, label or size shows up here.

Set IOMTSHARE_WRITE_VECTORS=1 to regenerate tests/vectors/tpre_share_proofs.json after a
deliberate change of the proof (and bump LABEL_SHARE_PROOF).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from crypto.errors import VerificationError
from crypto.groups import G1Element, G2Element, Group, GTElement
from crypto.tpre import ReEncryptionShare, ReKeyShare, verify_share
from crypto.tpre.grant import verify_rekey_share
from crypto.tpre.share import CHALLENGE_BITS, reencryption_share

VECTOR_FILE = Path(__file__).parent.parent / "vectors" / "tpre_share_proofs.json"
CONTEXT = b"vector-request-0001"
RK_SCALAR = 29
C1_SCALAR = 17


def _fixture(g: Group) -> tuple[G2Element, GTElement, G1Element]:
    rk = g.g2 * RK_SCALAR
    vk = g.z**RK_SCALAR
    c1 = g.g1 * C1_SCALAR
    return rk, vk, c1


def _generate(g: Group) -> dict[str, Any]:
    rk, vk, c1 = _fixture(g)
    rekey = verify_rekey_share(g, ReKeyShare(4, rk), vk)
    cases = {}
    for name, c1_pairing in (("fresh", None), ("with_c1_pairing", g.pairing(c1, g.g2))):
        share = reencryption_share(g, rekey, c1, CONTEXT, c1_pairing)
        cases[name] = {
            "share": share.to_bytes().hex(),
            "challenge": f"{share.challenge:x}",
        }
    return {"context": CONTEXT.hex(), "c1": bytes(c1).hex(), "vk": bytes(vk).hex(), **cases}


def _stored(mcl: Group) -> dict[str, Any]:
    if os.environ.get("IOMTSHARE_WRITE_VECTORS") == "1":
        VECTOR_FILE.write_text(json.dumps(_generate(mcl), indent=1, sort_keys=True) + "\n")
    data: dict[str, Any] = json.loads(VECTOR_FILE.read_text())
    return data


@pytest.mark.parametrize("name", ["fresh", "with_c1_pairing"])
def test_stored_proofs_verify_with_the_same_challenge(mcl: Group, name: str) -> None:
    stored = _stored(mcl)
    _, vk, c1 = _fixture(mcl)
    assert stored["c1"] == bytes(c1).hex()
    assert stored["vk"] == bytes(vk).hex()
    context = bytes.fromhex(stored["context"])
    share = ReEncryptionShare.from_bytes(mcl, bytes.fromhex(stored[name]["share"]))
    challenge = share.challenge
    assert f"{challenge:x}" == stored[name]["challenge"]
    assert challenge < 1 << CHALLENGE_BITS
    verify_share(mcl, share, vk, c1, context)
    with pytest.raises(VerificationError):
        verify_share(mcl, share, vk, c1, context + b"!")


def test_stored_proof_verifies_on_the_reference_backend(mcl: Group, pyecc: Group) -> None:
    stored = _stored(mcl)
    _, vk, c1 = _fixture(pyecc)
    share = ReEncryptionShare.from_bytes(pyecc, bytes.fromhex(stored["fresh"]["share"]))
    verify_share(pyecc, share, vk, c1, bytes.fromhex(stored["context"]))

