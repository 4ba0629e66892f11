"""Edge nodes in a genesis: the version-3 encoding, its JSON form and its checks.

A stored vector fixes the bytes and hash of a genesis with edges; regenerate it with
``IOMTSHARE_REGEN_VECTORS=1 pytest tests/ledger/test_genesis_edges.py``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from crypto.errors import DecodeError
from ledger.genesis import EDGES_VERSION, EdgeInfo, Genesis, GenesisError, NodeInfo

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "genesis_edges_vectors.json"
REGENERATE = os.environ.get("IOMTSHARE_REGEN_VECTORS") == "1"


def plain(n: int = 4) -> Genesis:
    nodes = tuple(
        NodeInfo(i, f"peer-{i}", bytes([i]) * 32, bytes([0x80 + i]) * 32) for i in range(1, n + 1)
    )
    return Genesis.create(
        "vector-chain", nodes, bytes(range(32)), genesis_time_ms=1_700_000_000_000
    )


def with_edges(count: int = 2) -> Genesis:
    edges = tuple(EdgeInfo(f"edge-{i}", bytes([0x40 + i]) * 32) for i in range(1, count + 1))
    return dataclasses.replace(plain(), edges=edges)


def test_vector_replays() -> None:
    value = with_edges()
    if REGENERATE:
        document = {
            "genesis": value.to_json(),
            "bytes_hex": value.to_bytes().hex(),
            "hash_hex": value.hash().hex(),
        }
        VECTORS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    stored = json.loads(VECTORS.read_text(encoding="utf-8"))
    decoded = Genesis.from_json(stored["genesis"])
    assert decoded == value
    assert decoded.to_bytes().hex() == stored["bytes_hex"]
    assert decoded.hash().hex() == stored["hash_hex"]
    assert Genesis.from_bytes(bytes.fromhex(stored["bytes_hex"])) == value


def test_edges_bump_the_version_only_when_present() -> None:
    assert plain().version == 1
    value = with_edges()
    assert value.version == EDGES_VERSION
    assert value.to_bytes()[1] == EDGES_VERSION
    assert value.hash() != plain().hash()


@pytest.mark.parametrize("count", [1, 3])
def test_round_trip_bytes_and_json(count: int) -> None:
    value = with_edges(count)
    assert Genesis.from_bytes(value.to_bytes()) == value
    assert Genesis.from_json(json.loads(json.dumps(value.to_json()))) == value
    assert value.edge("edge-1") == value.edges[0]
    assert value.edge("peer-1") is None


def test_version_3_without_edges_is_refused() -> None:
    encoded = bytearray(with_edges(1).to_bytes())
    # The edge sequence is last: its count (u32 big-endian) precedes one length-prefixed edge.
    edge_bytes = EdgeInfo("edge-1", bytes([0x41]) * 32).to_bytes()
    cut = len(encoded) - len(edge_bytes) - 4 - 4
    emptied = bytes(encoded[:cut]) + (0).to_bytes(4, "big")
    with pytest.raises(DecodeError):
        Genesis.from_bytes(emptied)


def test_edge_clashing_with_a_node_is_refused() -> None:
    base = plain()
    with pytest.raises(ValueError, match="peer id"):
        dataclasses.replace(base, edges=(EdgeInfo("peer-1", bytes([0x41]) * 32),))
    with pytest.raises(ValueError, match="verify key"):
        dataclasses.replace(base, edges=(EdgeInfo("edge-1", bytes([1]) * 32),))


def test_malformed_edge_json_names_the_field() -> None:
    document = with_edges(1).to_json()
    document["edges"][0]["verify_key"] = "zz"
    with pytest.raises(GenesisError, match=r"edges\[0\]\.verify_key"):
        Genesis.from_json(document)
