"""A malformed genesis.json gives one clear line naming the field, wherever it is read: `genesis
validate`, `init --genesis`, `node start` (before: a raw KeyError such as 'genesis_time_ms')."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from ledger.genesis import Genesis, GenesisError
from testnet.layout import create_network

Edit = Callable[[dict[str, Any]], None]


def _drop(name: str) -> Edit:
    return lambda doc: doc.pop(name)


def _set(name: str, value: Any) -> Edit:
    return lambda doc: doc.__setitem__(name, value)


def _node(name: str, value: Any) -> Edit:
    return lambda doc: doc["nodes"][1].__setitem__(name, value)


CASES: list[tuple[str, Edit, str]] = [
    ("no time", _drop("genesis_time_ms"), "missing field 'genesis_time_ms'"),
    ("no quorum", _drop("quorum"), "missing field 'quorum'"),
    ("no nodes", _drop("nodes"), "missing field 'nodes'"),
    ("time as text", _set("genesis_time_ms", "yesterday"),
     "field 'genesis_time_ms' must be an integer (u64), not a string"),
    ("boolean quorum", _set("quorum", True),
     "field 'quorum' must be an integer (u16), not a boolean"),
    ("negative time", _set("genesis_time_ms", -1), "Genesis.genesis_time_ms must be u64"),
    ("short key", _set("authority_key", "abcd"), "field 'authority_key' must be 64 hex digits"),
    ("nodes not a list", _set("nodes", {}), "field 'nodes' must be a list of node objects"),
    ("node not an object", lambda doc: doc["nodes"].__setitem__(0, 7),
     "nodes[0] must be an object, not an integer"),
    ("node key not hex", _node("box_key", "zz" * 32), "field 'nodes[1].box_key' must be 64 hex"),
    ("node without id", lambda doc: doc["nodes"][1].pop("peer_id"),
     "missing field 'nodes[1].peer_id'"),
    ("unknown field", _set("validators", []), "unknown genesis fields: ['validators']"),
    ("weak quorum", _set("quorum", 1), "quorum 1 is not a strict majority of 2 nodes"),
]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    network = create_network(tmp_path_factory.mktemp("genesis") / "net", 2)
    return network.genesis.to_json()


def _write(tmp_path: Path, good: dict[str, Any], edit: Edit) -> Path:
    document = json.loads(json.dumps(good))
    edit(document)
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(("case", "edit", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_malformed_genesis_names_the_field(
    tmp_path: Path, good: dict[str, Any], case: str, edit: Edit, message: str
) -> None:
    path = _write(tmp_path, good, edit)
    with pytest.raises(GenesisError) as raised:
        Genesis.load(path)
    assert message in str(raised.value)
    result = CliRunner().invoke(main, ["genesis", "validate", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert "KeyError" not in result.output
    assert "Traceback" not in result.output


def test_init_and_node_start_name_the_field_too(tmp_path: Path, good: dict[str, Any]) -> None:
    path = _write(tmp_path, good, _drop("genesis_time_ms"))
    init = CliRunner().invoke(main, ["init", "--home", str(tmp_path / "h"), "--genesis", str(path)])
    assert init.exit_code == 1
    assert "missing field 'genesis_time_ms'" in init.output
    network = create_network(tmp_path / "net", 2)
    home = network.directory / "node1"
    bad = _write(tmp_path, good, _drop("quorum"))
    (home / "genesis.json").write_bytes(bad.read_bytes())
    start = CliRunner().invoke(main, ["node", "start", "--home", str(home)])
    assert start.exit_code == 1
    assert "missing field 'quorum'" in start.output
    assert "KeyError" not in start.output


def test_the_optional_parameters_may_be_left_out(tmp_path: Path, good: dict[str, Any]) -> None:
    optional = ("freshness_window_ms", "denial_limit", "block_interval_ms", "round_timeout_ms")
    path = _write(tmp_path, good, lambda doc: [doc.pop(name) for name in optional])
    loaded = Genesis.load(path)
    assert loaded.denial_limit == Genesis.__dataclass_fields__["denial_limit"].default
    assert Genesis.from_json(good).to_json() == good


def test_not_json_at_all(tmp_path: Path) -> None:
    path = tmp_path / "genesis.json"
    path.write_text("{ nodes: ")
    result = CliRunner().invoke(main, ["genesis", "validate", str(path)])
    assert result.exit_code == 1
    assert "is not a valid genesis: not JSON" in result.output
    path.write_text("[]")
    assert "a genesis is a JSON object, not a list" in CliRunner().invoke(
        main, ["genesis", "show", str(path)]
    ).output
