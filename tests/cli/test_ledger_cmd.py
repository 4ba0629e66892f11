"""``iomtshare ledger verify``: exit 0 on a sound ledger, 1 with the first bad location, 2 on bad
input; it never creates or changes a database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from ledger import schema
from ledger.leveldb import LevelDBStore
from ledger.testing import ChainFixture
from tests.ledger.test_tamper import HEIGHTS, build_chain, flip


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A node home (per node/config.py) whose ledger holds a six-block chain."""
    fx = ChainFixture(nodes=4, denial_limit=3)
    home = tmp_path / "node1"
    (home / "data").mkdir(parents=True)
    fx.genesis.save(home / "genesis.json")
    build_chain(fx, LevelDBStore(home / "data" / "ledger")).close()
    return home


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["ledger", "verify", *args])


def tamper(home: Path, key: bytes, position: int) -> None:
    store = LevelDBStore(home / "data" / "ledger", create=False)
    flip(store, key, position)
    store.close()


def test_sound_ledger_verifies(home: Path) -> None:
    result = run("--home", str(home))
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.startswith(f"ok: height {HEIGHTS},")
    payload = json.loads(run("--home", str(home), "--json").stdout)
    assert payload["ok"] is True
    assert (payload["height"], payload["audit_records"]) == (HEIGHTS, HEIGHTS - 2)
    assert payload["first_bad"] is None


def test_db_and_genesis_paths_work_like_home(home: Path) -> None:
    result = run("--db", str(home / "data" / "ledger"), "--genesis", str(home / "genesis.json"))
    assert result.exit_code == 0, result.output + result.stderr


def test_tampering_exits_1_with_the_first_bad_location(home: Path) -> None:
    tamper(home, schema.audit(1), 20)
    tamper(home, schema.block(5), 50)  # also broken, but later than audit 1's block (4)
    result = run("--home", str(home))
    assert result.exit_code == 1
    assert result.stdout.startswith("TAMPERED: first bad location audit 1:")
    for workers in ("1", "2"):
        payload = json.loads(run("--home", str(home), "--json", "--workers", workers).stdout)
        assert payload["ok"] is False
        assert payload["height"] == HEIGHTS
        assert payload["first_bad"]["location"] == "audit 1"
        assert payload["first_bad"]["height"] == 4


def test_bad_input_exits_2(home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert run("--home", str(missing)).exit_code == 2
    assert not missing.exists()  # nothing was created
    assert run("--db", str(home / "data" / "ledger")).exit_code == 2
    assert run("--home", str(home), "--db", str(home)).exit_code == 2
    assert run("--home", str(home), "--workers", "many").exit_code == 2
    (home / "genesis.json").write_text("{not json")
    result = run("--home", str(home), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["ok"] is False


def test_genesis_of_another_chain_exits_2(home: Path) -> None:
    other = ChainFixture(nodes=4, seed=b"another chain")
    other.genesis.save(home / "genesis.json")
    result = run("--home", str(home))
    assert result.exit_code == 2
    assert "another genesis" in result.stderr


def test_locked_database_exits_2(home: Path) -> None:
    holder = LevelDBStore(home / "data" / "ledger", create=False)  # as a running node would
    try:
        result = run("--home", str(home))
    finally:
        holder.close()
    assert result.exit_code == 2
    assert "still running" in result.stderr
