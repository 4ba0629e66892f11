"""The client, authority, explore and init commands against real nodes served over HTTP: a
4-node, threshold-3 testnet run in-process (tests/client/live_network.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testnet.layout import Network
from tests.cli.live_cli import ok_json, run
from tests.client.live_network import LiveNetwork


@pytest.fixture
def network(live: LiveNetwork) -> Network:
    return live.network


@pytest.fixture
def node_url(live: LiveNetwork) -> str:
    return live.url


def test_the_sharing_flow_through_the_cli(tmp_path: Path, network: Network, node_url: str) -> None:
    key = str(network.authority_key_path)
    alice, bob = str(tmp_path / "alice"), str(tmp_path / "bob")
    for member, role in ((alice, "owner"), (bob, "requester")):
        ok_json("client", "keygen", "--member", member, "--role", role)
        ok_json("authority", "register", member, "--key", key, "--node", node_url,
                "--attr", f"role:{role}")
        ok_json("client", "publish-key", "--member", member, "--node", node_url)
    original = tmp_path / "scan.txt"
    original.write_bytes(b"blood pressure 120/80\n" * 100)
    stored = ok_json("client", "put", str(original), "--member", alice, "--node", node_url,
                     "--keyword", "bp")
    record_id = str(stored["record_id"])
    ok_json("client", "grant", record_id, bob, "--member", alice, "--node", node_url)
    decision = ok_json("client", "request", record_id, "--member", bob, "--node", node_url)
    assert decision["status"] == "granted"
    out = tmp_path / "copy.txt"
    fetched = ok_json("client", "fetch", record_id, str(decision["request_id"]), "--member", bob,
                      "--node", node_url, "-o", str(out))
    assert fetched["name"] == "scan.txt"
    assert out.read_bytes() == original.read_bytes()

    audit = ok_json("explore", "audit", "--record", record_id, "--node", node_url)
    assert [entry["decision"] for entry in audit] == ["granted"]
    record = ok_json("explore", "record", record_id, "--node", node_url)
    assert len(record["grants"]) == 1  # type: ignore[arg-type]
    table = run("explore", "status", "--node", node_url)
    assert network.chain_id in table.output

    ok_json("client", "revoke", record_id, bob, "--member", alice, "--node", node_url)
    denied = run("client", "request", record_id, "--member", bob, "--node", node_url)
    assert denied.exit_code == 1
    assert "denied" in denied.output


def test_clear_errors_and_exit_codes(tmp_path: Path, network: Network, node_url: str) -> None:
    missing = run("client", "put", str(network.authority_key_path), "--member",
                  str(tmp_path / "nobody"), "--node", node_url)
    assert missing.exit_code == 1
    assert "KeyStoreError" in missing.output
    bad_id = run("explore", "record", "xyz", "--node", node_url)
    assert bad_id.exit_code == 2
    assert "must be hex" in bad_id.output
    unknown = run("explore", "record", "00" * 32, "--node", node_url)
    assert unknown.exit_code == 1
    assert "not_found" in unknown.output
    owner = str(tmp_path / "owner")
    ok_json("client", "keygen", "--member", owner)
    ok_json("authority", "register", owner, "--key", str(network.authority_key_path),
            "--node", node_url)
    ok_json("client", "publish-key", "--member", owner, "--node", node_url)
    too_high = run("client", "grant", "11" * 32, owner, "--member", owner, "--node", node_url,
                   "--threshold", "5")
    assert too_high.exit_code == 1
    assert "invalid input: threshold 5 of 4 nodes" in too_high.output
    unreachable = run("explore", "status", "--node", "http://127.0.0.1:9")
    assert unreachable.exit_code == 1
    assert "ConnectionFailed" in unreachable.output


def test_init_writes_one_home(tmp_path: Path, network: Network) -> None:
    genesis = network.directory / "node1" / "genesis.json"
    result = ok_json("init", "--home", str(tmp_path / "home"), "--p2p-port", "4100",
                     "--http-port", "4101", "--genesis", str(genesis))
    assert str(result["peer_id"]).startswith("12D3KooW")
    assert (tmp_path / "home" / "genesis.json").exists()
    again = run("init", "--home", str(tmp_path / "home"))
    assert again.exit_code == 1
    assert "refusing to overwrite" in again.output


def test_authority_init_refuses_to_replace_a_key(tmp_path: Path) -> None:
    key = tmp_path / "authority_key"
    first = ok_json("authority", "init", "--key", str(key))
    assert len(str(first["verify_key"])) == 64
    assert run("authority", "init", "--key", str(key)).exit_code == 1
