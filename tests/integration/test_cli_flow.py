"""The demo flow through the CLI against a real testnet of node processes.

``testnet up`` (a subprocess, as a user runs it) starts 4 nodes with t = 3; members are made
and registered, a file is stored, granted, requested through another node, fetched, decrypted
and compared; the audit chain, grants and ledger check are read back; revocation denies the
next request; ``testnet down`` stops everything (also when a step fails).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import COMMANDS, main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif("node" not in COMMANDS, reason="`iomtshare node start` is not available"),
]


def cli_process(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def testnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("testnet") / "net"
    started = cli_process(
        "testnet", "up", "--nodes", "4", "--threshold", "3", "--dir", str(directory),
        "--block-interval-ms", "200", "--round-timeout-ms", "1500", "--timeout", "120", "--json",
    )
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        network = json.loads(started.stdout)
        network["dir"] = directory
        yield network
    finally:
        stopped = cli_process("testnet", "down", "--dir", str(directory), "--json")
        assert stopped.returncode == 0, stopped.stderr


def cli(*args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # notes such as the request id go to stderr


def test_share_a_file_through_the_cli(testnet: dict[str, Any], tmp_path: Path) -> None:
    first, last = testnet["nodes"][0]["http_url"], testnet["nodes"][-1]["http_url"]
    key = str(testnet["dir"] / "authority" / "authority_key")
    alice, bob = str(tmp_path / "alice"), str(tmp_path / "bob")
    for member, role in ((alice, "owner"), (bob, "requester")):
        cli("client", "keygen", "--member", member, "--role", role)
        cli("authority", "register", member, "--key", key, "--node", first,
            "--attr", f"role:{role}")
        cli("client", "publish-key", "--member", member, "--node", first)

    original = tmp_path / "ecg.csv"
    original.write_text("".join(f"{i},{(i * 37) % 101}\n" for i in range(3000)))
    stored = cli("client", "put", str(original), "--member", alice, "--node", first,
                 "--keyword", "ecg", "--keyword", "ward-7")
    record = stored["record_id"]
    found = cli("explore", "records", "--keyword", "ward-7", "--keyword", "ecg", "--node", last)
    assert [r["record_id"] for r in found] == [record]
    assert stored["fragments_stored"] == 4
    cli("client", "grant", record, bob, "--member", alice, "--node", first)

    decision = cli("client", "request", record, "--member", bob, "--node", last, "--timeout", "90")
    assert decision["status"] == "granted"
    copy = tmp_path / "copy.csv"
    cli("client", "fetch", record, decision["request_id"], "--member", bob, "--node", last,
        "-o", str(copy))
    assert copy.read_bytes() == original.read_bytes()

    audit = cli("explore", "audit", "--record", record, "--node", first)
    assert [(e["decision"], e["request_id"]) for e in audit] == [
        ("granted", decision["request_id"])
    ]
    shown = cli("explore", "record", record, "--node", last)
    assert [g["grantee"] for g in shown["grants"]] == [
        json.loads(Path(bob, "member.json").read_text())["member_id"]
    ]
    assert cli("explore", "verify", "--node", first)["ok"] is True
    committed = cli("explore", "tx", stored["tx_id"], "--node", last)
    assert committed["type"] == "PutRecord"
    block = cli("explore", "block", str(committed["height"]), "--node", first)
    assert stored["tx_id"] in block["tx_ids"]
    heights = [b["height"] for b in cli("explore", "blocks", "--from", "1", "--node", first)]
    assert heights == sorted(heights, reverse=True)  # newest first
    assert committed["height"] in heights
    bob_id = json.loads(Path(bob, "member.json").read_text())["member_id"]
    [member] = cli("explore", "members", bob_id, "--node", last)
    assert member["tpre_public_key"]
    history = cli("explore", "attributes", bob_id, "--node", first)
    assert history[-1]["attributes"] == ["role:requester"]
    peers = cli("explore", "peers", "--node", first)["peers"]
    assert all(p["connected"] for p in peers)

    cli("client", "revoke", record, bob, "--member", alice, "--node", first)
    denied = CliRunner().invoke(
        main, ["client", "request", record, "--member", bob, "--node", first, "--timeout", "90"]
    )
    assert denied.exit_code == 1, denied.output
    assert "denied" in denied.output
    decisions = [e["decision"] for e in cli("explore", "audit", "--record", record, "--node", last)]
    assert decisions == ["granted", "denied"]


def test_testnet_status_reports_every_node(testnet: dict[str, Any]) -> None:
    status = cli_process("testnet", "status", "--dir", str(testnet["dir"]), "--json")
    assert status.returncode == 0, status.stderr
    nodes = json.loads(status.stdout)
    assert [n["index"] for n in nodes] == [1, 2, 3, 4]
    assert all(n["running"] and n["peers_connected"] == 3 for n in nodes)
    heights = {n["height"] for n in nodes}
    assert min(heights) >= 1
