"""Operator commands on node homes, no node running: init's address options, show-node-id,
keys show, config show|validate, node reset, and genesis assemble|install|validate|show."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from node.config import load_config

AUTHORITY = "ab" * 32


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def ok_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def init_home(home: Path, host: str, *extra: str) -> dict[str, Any]:
    document: dict[str, Any] = ok_json(
        "init", "--home", str(home), "--p2p-host", host, "--http-host", host, *extra
    )
    return document


def export_info(home: Path, out: Path) -> Path:
    result = run("keys", "show", "--home", str(home), "--json")
    assert result.exit_code == 0, result.output
    out.write_text(result.stdout)
    return out


def four_homes_with_genesis(tmp_path: Path) -> tuple[list[Path], list[Path], Path]:
    homes = [tmp_path / f"op{i}" / "home" for i in range(1, 5)]
    infos = []
    for i, home in enumerate(homes, start=1):
        init_home(home, f"127.0.0.{i + 1}")
        infos.append(export_info(home, tmp_path / f"node{i}.json"))
    genesis = tmp_path / "genesis.json"
    ok_json("genesis", "assemble", *map(str, infos), "--chain-id", "ops",
            "--authority", AUTHORITY, "--out", str(genesis))
    for home in homes:
        ok_json("genesis", "install", "--home", str(home), str(genesis), *map(str, infos))
    return homes, infos, genesis


# -- init ------------------------------------------------------------------------------------


def test_init_refuses_a_malformed_peer_with_a_usage_error(tmp_path: Path) -> None:
    result = run("init", "--home", str(tmp_path / "home"), "--peer", "not-a-multiaddr")
    assert result.exit_code == 2, result.output
    assert "not-a-multiaddr" in result.output
    assert "/p2p/PEER_ID" in result.output
    assert not (tmp_path / "home").exists()
    # A multiaddr without the peer id would be dialled to nobody: refused too.
    no_id = run("init", "--home", str(tmp_path / "home"), "--peer", "/ip4/10.0.0.1/tcp/26656")
    assert no_id.exit_code == 2, no_id.output


def test_a_hand_edited_bad_peer_stops_the_node_at_start(tmp_path: Path) -> None:
    homes, _, _ = four_homes_with_genesis(tmp_path)
    config = homes[0] / "config.toml"
    config.write_text(config.read_text().replace("peers = [", 'peers = ["not-a-multiaddr", '))
    started = run("node", "start", "--home", str(homes[0]))
    assert started.exit_code == 1
    assert "peer 'not-a-multiaddr' is not a multiaddr" in started.output
    checked = run("config", "validate", "--home", str(homes[0]))
    assert checked.exit_code == 1
    assert "problem: peer 'not-a-multiaddr'" in checked.output


def test_init_separates_listen_advertise_and_http_addresses(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shown = ok_json(
        "init", "--home", str(home), "--p2p-host", "0.0.0.0", "--p2p-port", "26000",
        "--p2p-advertise", "node1.example.org:9000", "--http-host", "127.0.0.9",
        "--http-port", "26001",
    )
    config = load_config(home)
    assert config.p2p_listen == "/ip4/0.0.0.0/tcp/26000"
    assert config.p2p_advertise == "/dns/node1.example.org/tcp/9000"
    assert (config.http_host, config.http_port) == ("127.0.0.9", 26001)
    assert shown["p2p_address"] == f"/dns/node1.example.org/tcp/9000/p2p/{shown['peer_id']}"
    assert shown["http_url"] == "http://127.0.0.9:26001"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--p2p-host", "0.0.0.0"], "give --p2p-advertise"),
        (["--p2p-host", "node1.example.org"], "is not an IP address"),
        (["--http-host", "localhost"], "is not an IP address"),
        (["--p2p-advertise", "host:0"], "no valid port"),
        (["--p2p-advertise", "/ip4/1.2.3.4/udp/5"], "is not of the form"),
    ],
)
def test_init_refuses_unusable_addresses(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("init", "--home", str(tmp_path / "home"), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "home").exists()


def test_a_public_http_host_needs_the_flag(tmp_path: Path) -> None:
    run("init", "--home", str(tmp_path / "a"), "--http-host", "0.0.0.0")
    refused = run("config", "validate", "--home", str(tmp_path / "a"))
    assert refused.exit_code == 1
    assert "without allow_public" in refused.output
    ok_json("init", "--home", str(tmp_path / "b"), "--http-host", "0.0.0.0", "--http-public")
    assert load_config(tmp_path / "b").extra == {"http_allow_public": True}


# -- identity -------------------------------------------------------------------------------


def test_show_node_id_prints_the_peer_id(tmp_path: Path) -> None:
    created = init_home(tmp_path / "home", "127.0.0.1")
    shown = run("show-node-id", "--home", str(tmp_path / "home"))
    assert shown.exit_code == 0
    assert shown.output == f"{created['peer_id']}\n"
    missing = run("show-node-id", "--home", str(tmp_path / "nowhere"))
    assert missing.exit_code == 1
    assert "bad node home" in missing.output


def _secret_forms(secret: bytes) -> list[str]:
    return [
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        secret.hex()[:16],  # even a prefix of a secret is too much
    ]


def test_keys_show_prints_public_parts_and_never_a_secret(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = init_home(home, "127.0.0.1")
    human = run("keys", "show", "--home", str(home))
    as_json = run("keys", "show", "--home", str(home), "--json")
    assert human.exit_code == 0 == as_json.exit_code
    info = json.loads(as_json.output)
    assert set(info) == {"version", "peer_id", "verify_key", "box_key", "p2p_address"}
    assert info["peer_id"] == created["peer_id"]
    assert info["verify_key"] == created["verify_key"]
    assert info["p2p_address"] == f"/ip4/127.0.0.1/tcp/26656/p2p/{created['peer_id']}"
    for secret_file in ("node_key", "box_key"):
        secret = (home / secret_file).read_bytes()
        for output in (human.output, as_json.output, json.dumps(created)):
            for form in _secret_forms(secret):
                assert form not in output, f"{secret_file} shown"


# -- config ---------------------------------------------------------------------------------


def test_config_show_and_validate(tmp_path: Path) -> None:
    homes, _, _ = four_homes_with_genesis(tmp_path)
    shown = ok_json("config", "show", "--home", str(homes[1]))
    assert shown["p2p_listen"] == "/ip4/127.0.0.3/tcp/26656"
    assert shown["http_host"] == "127.0.0.3"
    assert len(shown["peers"]) == 3
    assert all("/ip4/127.0.0.3/" not in peer for peer in shown["peers"])
    checked = run("config", "validate", "--home", str(homes[1]))
    assert checked.exit_code == 0, checked.output
    assert "ready to start" in checked.output
    # A peer that is not a genesis node is a problem; a node without peers is only a warning.
    stranger = init_home(tmp_path / "stranger", "127.0.0.9")
    config = homes[1] / "config.toml"
    text = config.read_text()
    config.write_text(text.replace("peers = [", f'peers = ["{stranger["p2p_address"]}", '))
    report = ok_json_status("config", "validate", "--home", str(homes[1]), status=1)
    assert report["problems"] == [f"peer {stranger['p2p_address']} is not a genesis node"]
    config.write_text(text.replace(text[text.index("peers = ["):].split("\n")[0], "peers = []"))
    lonely = ok_json_status("config", "validate", "--home", str(homes[1]), status=0)
    assert lonely["ok"] is True
    assert "no peer address for genesis node(s) [1, 3, 4]" in lonely["warnings"][0]


def ok_json_status(*args: str, status: int) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == status, result.output
    return json.loads(result.stdout)


def test_config_validate_of_a_home_without_genesis_says_so(tmp_path: Path) -> None:
    init_home(tmp_path / "home", "127.0.0.1")
    result = run("config", "validate", "--home", str(tmp_path / "home"))
    assert result.exit_code == 1
    assert "genesis.json" in result.output


# -- reset ----------------------------------------------------------------------------------


def _identity_files(home: Path) -> dict[str, bytes]:
    names = ("node_key", "box_key", "config.toml", "genesis.json")
    return {name: (home / name).read_bytes() for name in names}


def test_reset_wipes_data_and_keeps_keys(tmp_path: Path) -> None:
    homes, _, _ = four_homes_with_genesis(tmp_path)
    home = homes[0]
    (home / "data" / "ledger").mkdir(parents=True)
    (home / "data" / "ledger" / "000001.ldb").write_bytes(b"old blocks")
    before = _identity_files(home)
    declined = run("node", "reset", "--home", str(home), input="n\n")
    assert declined.exit_code == 1
    assert (home / "data" / "ledger" / "000001.ldb").exists()
    confirmed = run("node", "reset", "--home", str(home), input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert not (home / "data").exists()
    assert _identity_files(home) == before
    again = run("node", "reset", "--home", str(home), "--yes")
    assert again.exit_code == 0
    assert "no data to delete" in again.output
    assert run("node", "reset", "--home", str(tmp_path / "nowhere"), "--yes").exit_code == 1


def test_reset_refuses_while_a_node_holds_the_ledger(tmp_path: Path) -> None:
    homes, _, _ = four_homes_with_genesis(tmp_path)
    ledger = homes[0] / "data" / "ledger"
    ledger.parent.mkdir()
    # Another process holding the LevelDB store, as a running node does.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import plyvel, sys; db = plyvel.DB(sys.argv[1], create_if_missing=True); "
         "print('open', flush=True); sys.stdin.read()", str(ledger)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "open\n"
        refused = run("node", "reset", "--home", str(homes[0]), "--yes")
    finally:
        holder.communicate(input="", timeout=60)
    assert refused.exit_code == 1
    assert "a node is running" in refused.output
    assert ledger.exists()


# -- genesis --------------------------------------------------------------------------------


def test_genesis_assembly_for_four_operators(tmp_path: Path) -> None:
    homes, infos, genesis = four_homes_with_genesis(tmp_path)
    shown = ok_json("genesis", "show", str(genesis))
    peer_ids = [json.loads(p.read_text())["peer_id"] for p in infos]
    assert [n["peer_id"] for n in shown["nodes"]] == peer_ids
    assert (shown["threshold"], shown["quorum"]) == (3, 3)
    assert shown["authority_key"] == AUTHORITY
    valid = ok_json("genesis", "validate", str(genesis))
    assert valid["ok"] is True
    assert valid["genesis_hash"] == shown["genesis_hash"]
    for index, home in enumerate(homes, start=1):
        assert (home / "genesis.json").read_bytes() == genesis.read_bytes()
        addresses = [json.loads(p.read_text())["p2p_address"] for p in infos]
        others = tuple(a for i, a in enumerate(addresses, start=1) if i != index)
        assert load_config(home).peers == others
        assert run("config", "validate", "--home", str(home)).exit_code == 0


def test_genesis_assembly_refuses_bad_infos(tmp_path: Path) -> None:
    init_home(tmp_path / "a", "127.0.0.2")
    init_home(tmp_path / "b", "127.0.0.3")
    a = export_info(tmp_path / "a", tmp_path / "a.json")
    b = export_info(tmp_path / "b", tmp_path / "b.json")
    out = str(tmp_path / "genesis.json")
    common = ["--chain-id", "x", "--authority", AUTHORITY, "--out", out]
    twice = run("genesis", "assemble", str(a), str(a), *common)
    assert twice.exit_code == 1
    assert "node infos 1 and 2 have the same peer_id" in twice.output
    forged = json.loads(b.read_text())
    forged["peer_id"] = json.loads(a.read_text())["peer_id"]
    forged["p2p_address"] = forged["p2p_address"].rsplit("/", 1)[0] + "/" + forged["peer_id"]
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    mismatched = run("genesis", "assemble", str(a), str(tmp_path / "forged.json"), *common)
    assert mismatched.exit_code == 1
    assert "is not the one of verify_key" in mismatched.output
    too_high = run("genesis", "assemble", str(a), str(b), *common, "--threshold", "3")
    assert too_high.exit_code == 1
    assert "threshold 3 is not within 1..2" in too_high.output
    bad_authority = run("genesis", "assemble", str(a), "--chain-id", "x", "--authority", "zz")
    assert bad_authority.exit_code == 2
    assert not Path(out).exists()
    ok_json("genesis", "assemble", str(a), str(b), *common)
    assert run("genesis", "assemble", str(a), str(b), *common).exit_code == 1  # no overwrite


def test_genesis_install_refuses_a_genesis_without_this_node(tmp_path: Path) -> None:
    _, infos, genesis = four_homes_with_genesis(tmp_path)
    outsider = tmp_path / "outsider"
    init_home(outsider, "127.0.0.9")
    refused = run("genesis", "install", "--home", str(outsider), str(genesis), *map(str, infos))
    assert refused.exit_code == 1
    assert "is not in this genesis" in refused.output
    # Infos missing for some nodes: no address to dial them.
    home = tmp_path / "op1" / "home"
    partial = run("genesis", "install", "--home", str(home), str(genesis), str(infos[0]),
                  "--force")
    assert partial.exit_code == 1
    assert "no node info (address) for genesis node(s) [2, 3, 4]" in partial.output
