"""Key files (ledger.keyfiles): 32 bytes, private to their owner, replaced whole, clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ledger.keyfiles import KeyFileError, load_secret, save_secret, write_atomic


def test_a_secret_round_trips_and_stays_private(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "node_key"
    save_secret(path, bytes(range(32)))
    assert load_secret(path) == bytes(range(32))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["node_key"]


def test_a_key_file_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node_key"
    path.write_bytes(b"short")
    with pytest.raises(KeyFileError, match="node_key must hold 32 bytes, found 5"):
        load_secret(path)
    with pytest.raises(KeyFileError, match="exactly 32 bytes"):
        save_secret(path, b"x")
    assert path.read_bytes() == b"short"


def test_a_missing_key_file_names_itself(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"cannot read key file .*box_key"):
        load_secret(tmp_path / "box_key")


def test_write_atomic_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "member.json"
    write_atomic(path, b"a much longer first version")
    write_atomic(path, b"second", mode=0o600)
    assert path.read_bytes() == b"second"
    assert not path.with_name("member.json.tmp").exists()
