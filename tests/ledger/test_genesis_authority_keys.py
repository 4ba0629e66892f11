"""The authority's keys in a genesis: the domain section and the FAME public key.

A stored vector fixes the version-2 bytes and hash of a genesis with known keys; regenerate it
with ``IOMTSHARE_REGEN_VECTORS=1 pytest tests/ledger/test_genesis_authority_keys.py`` (uses mcl).
Every decode is replayed on both backends.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from crypto.abe import fame
from crypto.dual import DomainKeyDealing, DomainSecretKey, setup
from crypto.groups import BACKENDS, Group, load_group
from crypto.polynomial import evaluate_polynomial
from ledger.authority_keys import authority_keys
from ledger.genesis import DomainKeys, Genesis, GenesisError, NodeInfo

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "genesis_authority_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"

#: p1, p2 and the dealing polynomial's other coefficients, fixed so the vector is reproducible.
P1, P2 = 0x1234567 << 200, 0x89ABCDEF << 180
COEFFICIENTS = (P2, 0x5151 << 190, 0x7272 << 170)
FAME_SCALARS = tuple(0x1000 + 17 * i for i in range(1, 8))


@pytest.fixture(scope="module", params=BACKENDS)
def group(request: pytest.FixtureRequest) -> Group:
    return load_group(request.param)


def nodes(n: int) -> tuple[NodeInfo, ...]:
    return tuple(
        NodeInfo(i, f"peer-{i}", bytes([i]) * 32, bytes([0x80 + i]) * 32) for i in range(1, n + 1)
    )


def keyed_genesis(group: Group, n: int = 4) -> Genesis:
    """A genesis whose domain key and FAME key come from the fixed scalars above (t = 3)."""
    params = setup(group)
    domain = DomainSecretKey(P1, P2)
    commitments = tuple(params.gamma2 * c for c in COEFFICIENTS)
    dealing = DomainKeyDealing(len(COEFFICIENTS), n, commitments)
    section = DomainKeys(
        epoch=0,
        threshold=dealing.threshold,
        public_key=domain.public_key(params).to_bytes(),
        verification_keys=tuple(bytes(dealing.verification_key(i)) for i in range(1, n + 1)),
    )
    master = fame.setup(group, FAME_SCALARS)
    plain = Genesis.create(
        "vector-chain",
        nodes(n),
        bytes(range(32)),
        genesis_time_ms=1_700_000_000_000,
        threshold=dealing.threshold,
    )
    return dataclasses.replace(
        plain, domain=section, fame_public_key=master.public.to_bytes()
    )


def test_vector_replays_on_every_backend(group: Group) -> None:
    if REGENERATE and group.name == "mcl":
        value = keyed_genesis(group)
        document = {
            "genesis": value.to_json(),
            "bytes_hex": value.to_bytes().hex(),
            "hash_hex": value.hash().hex(),
        }
        VECTORS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    stored = json.loads(VECTORS.read_text(encoding="utf-8"))
    value = Genesis.from_json(stored["genesis"])
    assert value.to_bytes().hex() == stored["bytes_hex"]
    assert value.hash().hex() == stored["hash_hex"]
    assert value.to_bytes()[:2] == bytes([Genesis.TAG, 2])
    assert Genesis.from_bytes(bytes.fromhex(stored["bytes_hex"])) == value
    # The same keys computed on this backend give the same bytes.
    assert keyed_genesis(group) == value
    keys = authority_keys(value, group)
    assert keys is not None
    params = setup(group)
    assert keys.domain.pk2 == params.gamma2 * P2
    assert keys.dealing.public_key == keys.domain.pk2
    for i in range(1, 5):
        sigma = evaluate_polynomial(COEFFICIENTS, i, params.order)
        assert keys.dealing.verification_key(i) == params.gamma2 * sigma
    assert keys.fame == fame.setup(group, FAME_SCALARS).public


def test_round_trips_and_the_keys_are_in_the_hash(mcl_group: Group) -> None:
    value = keyed_genesis(mcl_group)
    assert Genesis.from_json(json.loads(json.dumps(value.to_json()))) == value
    assert Genesis.from_bytes(value.to_bytes()) == value
    without = dataclasses.replace(value, domain=None, fame_public_key=None)
    assert without.to_bytes()[:2] == bytes([Genesis.TAG, 1])
    assert "domain" not in without.to_json()
    assert authority_keys(without, mcl_group) is None
    assert value.domain is not None
    keys = list(value.domain.verification_keys)
    keys[0], keys[1] = keys[1], keys[0]
    swapped = dataclasses.replace(
        value, domain=dataclasses.replace(value.domain, verification_keys=tuple(keys))
    )
    hashes = {value.hash(), without.hash(), swapped.hash()}
    assert len(hashes) == 3


@pytest.fixture(scope="module")
def mcl_group() -> Group:
    return load_group("mcl")


@pytest.fixture(scope="module")
def good(mcl_group: Group) -> dict[str, Any]:
    document: dict[str, Any] = keyed_genesis(mcl_group).to_json()
    return document


def _with(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with ``path`` (dotted; ``-`` deletes) replaced."""
    copy: dict[str, Any] = json.loads(json.dumps(document))
    *parents, last = path.split(".")
    target: Any = copy
    for name in parents:
        target = target[int(name)] if isinstance(target, list) else target[name]
    if value == "-":
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return copy


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("fame_public_key", "-", "domain and fame_public_key come together"),
        ("domain", "-", "domain and fame_public_key come together"),
        ("fame_public_key", "abcd", "field 'fame_public_key' must be 2692 hex digits"),
        ("domain", [], "domain must be an object, not a list"),
        ("domain.epoch", 1, "a genesis deals epoch 0"),
        ("domain.epoch", "0", "field 'domain.epoch' must be an integer, not a string"),
        ("domain.threshold", 2, "domain.threshold 2 differs from threshold 3"),
        ("domain.threshold", "-", "missing field 'domain.threshold'"),
        ("domain.public_key", "00", "field 'domain.public_key' must be 292 hex digits"),
        ("domain.verification_keys.1", "zz", r"domain.verification_keys\[1\] must be 192 hex"),
        ("domain.verification_keys.2", 5, r"verification_keys\[2\] must be .*not an integer"),
        ("domain.verification_keys", {}, "must be a list of hex G2 points"),
        ("domain.extra", 1, r"unknown fields in domain: \['extra'\]"),
    ],
)
def test_malformed_sections_name_the_field(
    good: dict[str, Any], path: str, value: Any, message: str
) -> None:
    with pytest.raises(GenesisError, match=message):
        Genesis.from_json(_with(good, path, value))


def test_a_missing_node_key_is_named(good: dict[str, Any]) -> None:
    short = _with(good, "domain.verification_keys", good["domain"]["verification_keys"][:3])
    with pytest.raises(GenesisError, match="lists 3 keys for 4 nodes"):
        Genesis.from_json(short)


def _keys_error(document: dict[str, Any], group: Group) -> str:
    value = Genesis.from_json(document)
    with pytest.raises(GenesisError) as caught:
        authority_keys(value, group)
    return str(caught.value)


def test_points_are_checked_on_the_backend(good: dict[str, Any], mcl_group: Group) -> None:
    params = setup(mcl_group)
    vks = good["domain"]["verification_keys"]
    # A key off the polynomial through the first three: node 4 is named.
    off = bytes(mcl_group.g2_from_bytes(bytes.fromhex(vks[3])) + params.gamma2).hex()
    assert "node 4" in _keys_error(_with(good, "domain.verification_keys.3", off), mcl_group)
    # Not a point at all (compressed-form flag set, x out of range).
    junk = "ff" * 96
    message = _keys_error(_with(good, "domain.verification_keys.2", junk), mcl_group)
    assert message.startswith("domain.verification_keys[2] (node 3)")
    # Consistent verification keys, but of another domain key than the one published.
    other = DomainSecretKey(P1, P2 + 1).public_key(params).to_bytes().hex()
    message = _keys_error(_with(good, "domain.public_key", other), mcl_group)
    assert "do not interpolate to the domain public key" in message
    message = _keys_error(_with(good, "fame_public_key", "00" * 1346), mcl_group)
    assert message.startswith("fame_public_key:")
