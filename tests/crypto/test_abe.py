"""FAME CP-ABE: decrypts exactly when the policy is satisfied, 6 pairings, no hash collisions,
no collusion."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.abe import (
    AttributeTermCache,
    FameCiphertext,
    FameMasterKey,
    FameSecretKey,
    UnsatisfiedPolicyError,
    decapsulate,
    encapsulate,
    keygen,
    open_envelope,
    seal,
    setup,
)
from crypto.abe import terms as terms_module
from crypto.abe.vandermonde import evaluate_range, horner
from crypto.errors import DecryptionError
from crypto.groups import Group, GTElement
from crypto.policy import Attribute, Gate, Policy, evaluate, parse
from tests.crypto.test_abe_support import UNIVERSE, CountingGroup, attribute_sets, policies

POLICY = "role:doctor and (dept:cardiology or 2 of (trial:x, trial:y, site:z))"


@pytest.fixture(scope="module")
def master(mcl: Group) -> FameMasterKey:
    return setup(mcl)


@pytest.fixture(scope="module")
def cache(mcl: Group) -> AttributeTermCache:
    return AttributeTermCache(mcl)


def _check_example(group: Group, attributes: list[str], allowed: bool) -> None:
    master = setup(group)
    envelope = seal(master.public, parse(POLICY), b"record key", b"ad")
    key = keygen(master, attributes)
    if allowed:
        assert open_envelope(master.public, key, envelope, b"ad") == b"record key"
        with pytest.raises(DecryptionError):
            open_envelope(master.public, key, envelope, b"other ad")
    else:
        with pytest.raises(UnsatisfiedPolicyError):
            open_envelope(master.public, key, envelope, b"ad")


@pytest.mark.parametrize(
    ("attributes", "allowed"),
    [
        (["role:doctor", "dept:cardiology"], True),
        (["role:doctor", "trial:x", "site:z"], True),
        (["role:doctor", "trial:y", "site:z", "unrelated"], True),
        (["role:doctor", "trial:x"], False),
        (["dept:cardiology", "trial:x", "trial:y"], False),
        ([], False),
    ],
)
def test_example_policy(mcl: Group, attributes: list[str], allowed: bool) -> None:
    _check_example(mcl, attributes, allowed)


@pytest.mark.pyecc
def test_example_policy_on_reference_backend(pyecc: Group) -> None:
    # One case: a pairing takes ~0.4 s on py_ecc.
    _check_example(pyecc, ["role:doctor", "trial:x", "site:z"], True)


@settings(max_examples=40)
@given(policy=policies(), attributes=attribute_sets)
def test_decrypts_exactly_when_satisfied(
    master: FameMasterKey, cache: AttributeTermCache, policy: Policy, attributes: set[str]
) -> None:
    secret, ciphertext = encapsulate(master.public, policy, cache)
    key = keygen(master, attributes, cache)
    if evaluate(policy, attributes):
        assert decapsulate(master.public, key, ciphertext) == secret
    else:
        with pytest.raises(UnsatisfiedPolicyError):
            decapsulate(master.public, key, ciphertext)


@pytest.mark.parametrize(
    "policy",
    [
        "a",
        "a and b",
        "a or b or c",
        "3 of (a, b, c, d, e)",
        " and ".join(f"x{i}" for i in range(40)),
        "a and (b or 2 of (c, d, (e and f))) and (a or g)",
    ],
)
def test_decryption_uses_six_pairings_whatever_the_policy(mcl: Group, policy: str) -> None:
    counting = CountingGroup(mcl)
    master = setup(counting)
    parsed = parse(policy)
    secret, ciphertext = encapsulate(master.public, parsed)
    key = keygen(master, parsed.attributes())
    counting.pairings = 0
    assert decapsulate(master.public, key, ciphertext) == secret
    assert counting.pairings == 6


def test_hash_inputs_are_injective_and_separated() -> None:
    # Charm's strings: attribute "01" with (l, t) = (1, 1) is "0111", which is also column 1.
    seen: dict[bytes, tuple[object, ...]] = {}
    for name in ["0", "01", "011", "0111", "01111", "1", "11", "111", "a1", "a"]:
        for ell, t in terms_module.LT_PAIRS:
            data = terms_module.attribute_input(name, ell, t)
            assert seen.setdefault(data, (name, ell, t)) == (name, ell, t)
    for j in range(0, 130):
        for ell, t in terms_module.LT_PAIRS:
            data = terms_module.column_input(j, ell, t)
            assert seen.setdefault(data, ("column", j, ell, t)) == ("column", j, ell, t)
    assert terms_module.ATTRIBUTE_DST != terms_module.COLUMN_DST


def _zero_row_attack(
    master: FameMasterKey, key: FameSecretKey, name: str, ciphertext: FameCiphertext
) -> GTElement:
    """Charm's collision attack: sk' / sk_name is a key with no hash terms left in it."""
    group = master.public.group
    own = key.components[name]
    v = [key.sk_prime[i] - own[i] for i in range(3)]
    return group.pairing_product([(v[i], ciphertext.ct0[i]) for i in range(3)])


def test_attribute_named_like_a_column_term_decrypts_nothing(
    monkeypatch: pytest.MonkeyPatch, mcl: Group
) -> None:
    policy = parse("role:admin and dept:it")

    # First show the attack is real when the inputs collide as in Charm ...
    def charm_attribute(name: str, ell: int, t: int) -> bytes:
        return f"{name}{ell}{t}".encode()

    def charm_column(j: int, ell: int, t: int) -> bytes:
        return f"0{j + 1}{ell}{t}".encode()

    with monkeypatch.context() as patch:
        patch.setattr(terms_module, "attribute_input", charm_attribute)
        patch.setattr(terms_module, "column_input", charm_column)
        patch.setattr(terms_module, "COLUMN_DST", terms_module.ATTRIBUTE_DST)
        master = setup(mcl)
        secret, ciphertext = encapsulate(master.public, policy)
        key = keygen(master, ["01"])
        assert _zero_row_attack(master, key, "01", ciphertext) == secret

    # ... then that it fails with the real, tagged and length-prefixed inputs.
    master = setup(mcl)
    secret, ciphertext = encapsulate(master.public, policy)
    for name in ["01", "011", "0111", "1", "11"]:
        key = keygen(master, [name])
        assert _zero_row_attack(master, key, name, ciphertext) != secret
        with pytest.raises(UnsatisfiedPolicyError):
            decapsulate(master.public, key, ciphertext)


@pytest.mark.parametrize("policy", ["att:a and att:b", "2 of (att:a, att:b, att:c)"])
def test_colluding_users_cannot_combine_keys(
    master: FameMasterKey, cache: AttributeTermCache, policy: str
) -> None:
    parsed = parse(policy)
    envelope = seal(master.public, parsed, b"secret", cache=cache)
    alice = keygen(master, ["att:a"], cache)
    bob = keygen(master, ["att:b", "att:c"], cache)
    for base in (alice, bob):
        merged = FameSecretKey(base.sk0, base.sk_prime, {**alice.components, **bob.components})
        with pytest.raises(DecryptionError):
            open_envelope(master.public, merged, envelope)
    with pytest.raises(UnsatisfiedPolicyError):
        open_envelope(master.public, alice, envelope)


def test_large_and_policy_and_attribute_reuse(
    master: FameMasterKey, cache: AttributeTermCache
) -> None:
    names = [f"n{i}" for i in range(30)]
    policy = Gate(30, tuple(Attribute(n) for n in names))
    secret, ciphertext = encapsulate(master.public, policy, cache)
    assert decapsulate(master.public, keygen(master, names, cache), ciphertext) == secret
    with pytest.raises(UnsatisfiedPolicyError):
        decapsulate(master.public, keygen(master, names[:-1], cache), ciphertext)
    reuse = parse("att:a and (att:a or att:b) and 2 of (att:a, att:c, att:d)")
    secret, ciphertext = encapsulate(master.public, reuse, cache)
    key = keygen(master, ["att:a", "att:d"], cache)
    assert decapsulate(master.public, key, ciphertext) == secret


@settings(max_examples=5)
@given(st.sampled_from(UNIVERSE))
def test_tampered_row_breaks_decryption(
    master: FameMasterKey, cache: AttributeTermCache, name: str
) -> None:
    policy = parse(f"{name} or att:zz")
    envelope = seal(master.public, policy, b"payload", cache=cache)
    key = keygen(master, [name], cache)
    row = envelope.header.rows[0]
    bad_row = (row[0] + master.public.group.g1, row[1], row[2])
    header = type(envelope.header)(
        policy, envelope.header.ct0, (bad_row, *envelope.header.rows[1:])
    )
    with pytest.raises(DecryptionError):
        open_envelope(master.public, key, type(envelope)(header, envelope.body))


@pytest.mark.parametrize("d", [1, 2, 5])
def test_forward_differences_match_horner(mcl: Group, d: int) -> None:
    coefficients = [mcl.g1 * mcl.random_scalar() for _ in range(d)]
    for n in (1, d + 1, d + 2, 14):
        expected = [
            sum((c * x ** (m + 1) for m, c in enumerate(coefficients)), mcl.g1_identity())
            for x in range(1, n + 1)
        ]
        assert evaluate_range(coefficients, n) == expected
        assert [horner(coefficients, x) for x in range(1, n + 1)] == expected


@settings(max_examples=8)
@given(st.sets(st.integers(0, 13)), st.integers(1, 14), st.booleans())
def test_wide_threshold_gates(
    master: FameMasterKey, cache: AttributeTermCache, held: set[int], k: int, nested: bool
) -> None:
    names = [f"w{i}" for i in range(14)]
    gate = Gate(k, tuple(Attribute(n) for n in names))
    policy: Policy = Gate(2, (gate, Attribute("att:a"))) if nested else gate
    attributes = {names[i] for i in held} | ({"att:a"} if nested else set())
    secret, ciphertext = encapsulate(master.public, policy, cache)
    key = keygen(master, attributes, cache)
    if evaluate(policy, attributes):
        assert decapsulate(master.public, key, ciphertext) == secret
    else:
        with pytest.raises(UnsatisfiedPolicyError):
            decapsulate(master.public, key, ciphertext)
