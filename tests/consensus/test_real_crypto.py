"""A share of simulated runs with the real cryptography: Ed25519 node keys and crypto.tpre shares.

Every committed result is decrypted by the requester and compared with the owner's plaintext.
"""

from __future__ import annotations

import pytest

from consensus.simulation.invariants import check_all
from consensus.simulation.real_crypto import TpreShares, real_world
from consensus.simulation.scenario import MIXES, random_scenario
from consensus.simulation.simulator import run


@pytest.mark.parametrize("mix", MIXES)
@pytest.mark.parametrize("n", [4, 5, 7])
def test_invariants_hold_with_real_crypto(n: int, mix: str) -> None:
    for seed in range(3):
        result = run(random_scenario(seed, n, mix, real_crypto=True), world=real_world(n, seed))
        problems = check_all(result)
        assert not problems, "\n".join([*problems[:10], result.summary()])


@pytest.mark.parametrize(
    "backend", ["mcl", pytest.param("py_ecc", marks=[pytest.mark.slow, pytest.mark.pyecc])]
)
def test_real_shares_reject_tampering(backend: str) -> None:
    world = real_world(4, 0, backend=backend)
    shares = world.shares
    assert isinstance(shares, TpreShares)
    from consensus.simulation.fake import FakeRequest

    request = FakeRequest(1, True, 2).to_bytes()
    good = shares.share(3, request)
    assert shares.verify(3, request, good)
    assert not shares.verify(2, request, good)  # someone else's share
    assert not shares.verify(3, FakeRequest(2, True, 2).to_bytes(), good)  # another request
    tampered = bytearray(good)
    tampered[-1] ^= 1
    assert not shares.verify(3, request, bytes(tampered))


@pytest.mark.slow
@pytest.mark.pyecc
def test_one_run_on_the_reference_pairing_backend() -> None:
    scenario = random_scenario(0, 4, "clean", real_crypto=True)
    result = run(scenario, world=real_world(4, 0, backend="py_ecc"))
    assert check_all(result) == []
