"""The authority's key ceremony for nodes on separate hosts, through the CLI, no node running:
`genesis assemble --authority-dir` over the operators' public infos, then each operator's
`genesis install --domain-share`; docs/deployment.md walks through the same steps."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from cli.main import main
from crypto.groups import load_group
from ledger.authority_keys import authority_keys
from ledger.genesis import Genesis
from node.home import load_identity


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def ok_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_ceremony_deals_the_domain_key_to_four_operators(tmp_path: Path) -> None:
    homes = [tmp_path / f"op{i}" / "home" for i in range(1, 5)]
    infos = []
    for i, home in enumerate(homes, start=1):
        ok_json("init", "--home", str(home), "--p2p-host", f"127.0.0.{i + 1}",
                "--http-host", f"127.0.0.{i + 1}")
        info = tmp_path / f"node{i}.json"
        result = run("keys", "show", "--home", str(home), "--json")
        info.write_text(result.stdout)
        infos.append(str(info))
    authority = tmp_path / "authority"
    created = ok_json("authority", "init", "--key", str(authority / "authority_key"))
    genesis_file = tmp_path / "genesis.json"
    common = ["--chain-id", "ops", "--out", str(genesis_file), "--authority-dir", str(authority)]

    mismatched = run("genesis", "assemble", *infos, *common, "--authority", "ab" * 32)
    assert mismatched.exit_code == 1
    assert "--authority is not the verify key" in mismatched.output
    assembled = ok_json("genesis", "assemble", *infos, *common)
    assert assembled["authority_key"] == created["verify_key"]
    assert assembled["domain_epoch"] == 0
    shares = authority / "domain_shares"
    expected = [f"node{i}.domain_share" for i in range(1, 5)]
    assert sorted(p.name for p in shares.iterdir()) == expected
    master = authority / "fame_master_key"
    assert stat.S_IMODE(master.stat().st_mode) == 0o600

    # A second ceremony into the same directory would orphan every attribute key issued.
    again = run("genesis", "assemble", *infos, *common, "--force")
    assert again.exit_code == 0
    genesis_file.unlink()
    refused = run("genesis", "assemble", *infos, *common)
    assert refused.exit_code == 1
    assert "fame_master_key exists" in refused.output
    ok_json("genesis", "assemble", *infos, *common, "--force")

    valid = ok_json("genesis", "validate", str(genesis_file))
    assert valid["ok"] is True
    value = Genesis.load(genesis_file)
    assert authority_keys(value, load_group("mcl")) is not None

    without = run("genesis", "install", "--home", str(homes[0]), str(genesis_file), *infos)
    assert without.exit_code == 1
    assert "give this node's share" in without.output
    foreign = run("genesis", "install", "--home", str(homes[0]), str(genesis_file), *infos,
                  "--domain-share", str(shares / "node2.domain_share"))
    assert foreign.exit_code == 1
    assert "node 2's domain share; this is node 1" in foreign.output
    for index, home in enumerate(homes, start=1):
        installed = ok_json("genesis", "install", "--home", str(home), str(genesis_file), *infos,
                            "--domain-share", str(shares / f"node{index}.domain_share"))
        assert installed["node_index"] == index
        assert load_identity(home).domain_share is not None
        assert run("config", "validate", "--home", str(home)).exit_code == 0


def test_assemble_needs_an_authority(tmp_path: Path) -> None:
    ok_json("init", "--home", str(tmp_path / "home"))
    info = tmp_path / "node.json"
    info.write_text(run("keys", "show", "--home", str(tmp_path / "home"), "--json").stdout)
    result = run("genesis", "assemble", str(info), "--chain-id", "x",
                 "--out", str(tmp_path / "g.json"))
    assert result.exit_code == 2
    assert "--authority" in result.output
    missing = run("genesis", "assemble", str(info), "--chain-id", "x",
                  "--out", str(tmp_path / "g.json"), "--authority-dir", str(tmp_path / "none"))
    assert missing.exit_code == 1
    assert "authority init" in missing.output
