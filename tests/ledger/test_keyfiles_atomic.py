"""write_atomic (ledger.keyfiles) against what a shared or dirty directory may hold: a symlink
planted where the temporary file used to go, a stale temporary file with loose permissions, a
permissive umask, a symlink at the destination."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.keyfiles import save_secret, write_atomic

SECRET = bytes(range(32))


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_symlink_where_the_temporary_file_went_is_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    key = tmp_path / "node_key"
    (tmp_path / "node_key.tmp").symlink_to(victim)
    save_secret(key, SECRET)
    assert victim.read_bytes() == b"untouched"
    assert key.read_bytes() == SECRET
    assert mode_of(key) == 0o600


def test_a_stale_temporary_file_does_not_lend_its_mode(tmp_path: Path) -> None:
    key = tmp_path / "node_key"
    stale = tmp_path / "node_key.tmp"
    stale.write_bytes(b"left by a crash")
    stale.chmod(0o666)
    save_secret(key, SECRET)
    assert mode_of(key) == 0o600
    assert key.read_bytes() == SECRET


def test_the_mode_is_exact_whatever_the_umask(tmp_path: Path, loose_umask: None) -> None:
    secret, public = tmp_path / "box_key", tmp_path / "member.json"
    save_secret(secret, SECRET)
    write_atomic(public, b"{}", mode=0o644)
    assert (mode_of(secret), mode_of(public)) == (0o600, 0o644)
    write_atomic(public, b"{}", mode=0o600)  # an existing file's mode is not kept either
    assert mode_of(public) == 0o600


def test_a_symlink_at_the_destination_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    key = tmp_path / "node_key"
    key.symlink_to(victim)
    save_secret(key, SECRET)
    assert victim.read_bytes() == b"untouched"
    assert not key.is_symlink()
    assert key.read_bytes() == SECRET


def test_nothing_is_left_behind_when_the_write_fails(tmp_path: Path) -> None:
    target = tmp_path / "a directory"
    target.mkdir()
    (target / "inside").write_bytes(b"x")
    with pytest.raises(IsADirectoryError):
        write_atomic(target, b"data")  # a non-empty directory cannot be replaced by a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a directory"]
