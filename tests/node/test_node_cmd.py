"""``iomtshare node start|status`` argument and error handling (no node is started here)."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from testnet.layout import create_network, free_ports


def test_start_with_a_bad_home_exits_non_zero(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["node", "start", "--home", str(tmp_path / "nowhere")])
    assert result.exit_code != 0
    assert "not a node home directory" in result.output


def test_start_with_a_foreign_key_names_the_problem(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 2)
    home = network.directory / "node2"
    (home / "node_key").write_bytes(bytes(range(32)))
    result = CliRunner().invoke(main, ["node", "start", "--home", str(home)])
    assert result.exit_code != 0
    assert "not one of the genesis nodes" in result.output


def test_status_of_an_unreachable_node_is_an_error(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    result = CliRunner().invoke(main, ["node", "status", "--url", f"http://127.0.0.1:{port}"])
    assert result.exit_code != 0
    assert "not reachable" in result.output
    missing = CliRunner().invoke(main, ["node", "status"])
    assert missing.exit_code == 2
    assert "--home or --url" in missing.output


def test_start_on_a_taken_port_says_so(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 1)
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", network.node(1).http_port))
        blocker.listen()
        home = network.directory / "node1"
        result = CliRunner().invoke(main, ["node", "start", "--home", str(home)])
    finally:
        blocker.close()
    assert result.exit_code == 1
    assert "Address already in use" in result.output
