"""A 4-node network built the way 4 operators on 4 hosts build one (docs/deployment.md).

The hosts are the loopback addresses 127.0.0.2 to 127.0.0.5, so every node uses the same p2p
and HTTP ports, as on real hosts. Each operator has its own directory and runs `init` with its
own listen, advertised and HTTP addresses, and exports its node's public info; the infos are
exchanged through a shared directory, one operator assembles the genesis, each installs it and
starts its node as a real process. Then a file is shared through the CLI across the nodes, and
a copy of one node's home started beside it fails on the taken p2p port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from cli.main import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
#: Bound on the network's start and on each wait for a node; never slept.
PATIENCE = 90.0


def cli(*args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _ports_free_on_every_host() -> tuple[int, int]:
    """Two ports that every one of HOSTS can bind (so all nodes use the same ports)."""
    for _ in range(20):
        probes = [socket.socket() for _ in range(2)]
        try:
            for probe in probes:
                probe.bind((HOSTS[0], 0))
            ports = tuple(probe.getsockname()[1] for probe in probes)
        finally:
            for probe in probes:
                probe.close()
        try:
            for host in HOSTS:
                for port in ports:
                    with socket.socket() as sock:
                        sock.bind((host, port))
        except OSError:
            continue
        return ports[0], ports[1]
    raise RuntimeError("no two ports free on every loopback host")


@dataclass
class Operator:
    """One operator's host: its own directory, node home and addresses."""

    number: int
    host: str
    root: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def home(self) -> Path:
        return self.root / "node-home"

    @property
    def log(self) -> Path:
        return self.root / "node.log"

    def start(self, home: Path | None = None) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "cli", "node", "start", "--home", str(home or self.home)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


@pytest.fixture(scope="module")
def operators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Operator]]:
    base = tmp_path_factory.mktemp("hosts")
    p2p_port, http_port = _ports_free_on_every_host()
    exchange = base / "exchange"  # what the operators send each other (public files only)
    exchange.mkdir()
    authority = cli("authority", "init", "--key", str(base / "authority" / "authority_key"))
    ops = [Operator(i, host, base / f"host{i}") for i, host in enumerate(HOSTS, start=1)]
    for op in ops:
        created = cli(
            "init", "--home", str(op.home),
            "--p2p-host", op.host, "--p2p-port", str(p2p_port),
            "--p2p-advertise", f"{op.host}:{p2p_port}",
            "--http-host", op.host, "--http-port", str(http_port),
        )
        assert created["p2p_address"].startswith(f"/ip4/{op.host}/tcp/{p2p_port}/p2p/")
        info = CliRunner().invoke(main, ["keys", "show", "--home", str(op.home), "--json"])
        assert info.exit_code == 0, info.output
        (exchange / f"node{op.number}.json").write_text(info.stdout)
    infos = [str(exchange / f"node{op.number}.json") for op in ops]
    cli(
        "genesis", "assemble", *infos, "--chain-id", "four-hosts",
        "--authority", authority["verify_key"], "--threshold", "3",
        "--block-interval-ms", "200", "--round-timeout-ms", "1500",
        "--out", str(exchange / "genesis.json"),
    )
    for op in ops:
        installed = cli("genesis", "install", "--home", str(op.home),
                        str(exchange / "genesis.json"), *infos)
        assert installed["node_index"] == op.number
        assert cli("config", "validate", "--home", str(op.home))["ok"] is True
    try:
        for op in ops:
            op.process = op.start()
        _wait_connected(ops, http_port)
        yield ops
    finally:
        for op in ops:
            if op.process is not None and op.process.poll() is None:
                op.process.send_signal(signal.SIGTERM)
        for op in ops:
            if op.process is not None:
                try:
                    op.process.wait(timeout=PATIENCE)
                except subprocess.TimeoutExpired:
                    op.process.kill()
                    op.process.wait()


def _wait_connected(ops: list[Operator], http_port: int) -> None:
    deadline = time.monotonic() + PATIENCE
    for op in ops:
        assert op.process is not None
        while True:
            if op.process.poll() is not None:
                raise AssertionError(f"node {op.number} exited:\n{op.log_tail()}")
            try:
                status = httpx.get(f"http://{op.host}:{http_port}/status", timeout=2).json()
                if status["peers_connected"] == len(ops) - 1:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"node {op.number} not connected:\n{op.log_tail()}")
            time.sleep(0.2)


def test_four_operators_share_a_file(operators: list[Operator], tmp_path: Path) -> None:
    urls = [_node_url(op) for op in operators]
    statuses = [httpx.get(f"{url}/status", timeout=5).json() for url in urls]
    assert [s["node_index"] for s in statuses] == [1, 2, 3, 4]
    assert {s["chain_id"] for s in statuses} == {"four-hosts"}
    key = str(operators[0].root.parent / "authority" / "authority_key")
    alice, bob = str(tmp_path / "alice"), str(tmp_path / "bob")
    for member, role, url in ((alice, "owner", urls[0]), (bob, "requester", urls[2])):
        cli("client", "keygen", "--member", member, "--role", role)
        cli("authority", "register", member, "--key", key, "--node", url, "--attr", f"role:{role}")
        cli("client", "publish-key", "--member", member, "--node", url)
    original = tmp_path / "ecg.csv"
    original.write_text("".join(f"{i},{(i * 37) % 101}\n" for i in range(2000)))
    stored = cli("client", "put", str(original), "--member", alice, "--node", urls[0])
    assert stored["fragments_stored"] == 4
    record = stored["record_id"]
    cli("client", "grant", record, bob, "--member", alice, "--node", urls[1])
    decision = cli("client", "request", record, "--member", bob, "--node", urls[3],
                   "--timeout", "90")
    assert decision["status"] == "granted"
    copy = tmp_path / "copy.csv"
    cli("client", "fetch", record, decision["request_id"], "--member", bob, "--node", urls[2],
        "-o", str(copy))
    assert copy.read_bytes() == original.read_bytes()
    # The decision is in every operator's ledger, the same chain on all four hosts.
    for url in urls:
        audit = cli("explore", "audit", "--record", record, "--node", url)
        assert [(e["decision"], e["request_id"]) for e in audit] == [
            ("granted", decision["request_id"])
        ]
    assert cli("explore", "verify", "--node", urls[3])["ok"] is True


def _node_url(op: Operator) -> str:
    shown = cli("config", "show", "--home", str(op.home))
    return f"http://{shown['http_host']}:{shown['http_port']}"


def test_a_copy_of_a_running_home_fails_on_the_taken_port(
    operators: list[Operator], tmp_path: Path
) -> None:
    first = operators[0]
    copy = tmp_path / "copied-home"
    copy.mkdir()
    for name in ("node_key", "box_key", "config.toml", "genesis.json"):
        shutil.copy2(first.home / name, copy / name)
    second = subprocess.run(
        [sys.executable, "-m", "cli", "node", "start", "--home", str(copy)],
        capture_output=True, text=True, timeout=PATIENCE, check=False,
    )
    assert second.returncode == 1, second.stderr
    assert f"cannot listen on /ip4/{first.host}/tcp/" in second.stderr
    assert "Address already in use" in second.stderr
    assert first.process is not None
    assert first.process.poll() is None
